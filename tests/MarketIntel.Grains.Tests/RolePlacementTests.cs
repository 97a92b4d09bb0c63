using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features.Io;
using MarketIntel.Grains.Assets;
using MarketIntel.Grains.Models;
using MarketIntel.Grains.Placement;
using MarketIntel.Tests;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>A grain that says which silo it lives on, placed as job grains are.</summary>
public interface IJobProbeGrain : IGrainWithIntegerKey
{
    Task<string> Silo();
}

/// <summary>A grain that says which silo it lives on, placed as the prediction path is.</summary>
public interface IServingProbeGrain : IGrainWithIntegerKey
{
    Task<string> Silo();
}

[WorkerPlacement]
public sealed class JobProbeGrain(ILocalSiloDetails silo) : Grain, IJobProbeGrain
{
    public Task<string> Silo() => Task.FromResult(silo.SiloAddress.ToString());
}

[ServingPlacement]
public sealed class ServingProbeGrain(ILocalSiloDetails silo) : Grain, IServingProbeGrain
{
    public Task<string> Silo() => Task.FromResult(silo.SiloAddress.ToString());
}

/// <summary>
/// An in-process cluster of one silo per role given; each silo publishes its role as the host does
/// (<see cref="GridHosting.AddMarketIntelGrid(ISiloBuilder, Action{GridOptions}, bool, SiloRole, WorkerDevice)"/>).
/// </summary>
public abstract class RoleCluster(params SiloRole[] roles) : IAsyncLifetime
{
    private const string RolesKey = "Test:Roles";

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder((short)roles.Length);
        builder.Properties[RolesKey] = string.Join(',', roles.Select(r => r.Name()));
        builder.AddSiloBuilderConfigurator<Configurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    /// <summary>The address of the silo started with <paramref name="role"/>.</summary>
    public string SiloOf(SiloRole role) => Cluster.Silos[Array.IndexOf(roles, role)].SiloAddress.ToString();

    /// <summary>
    /// Calls <paramref name="call"/> until no silo's role is still unknown to the silo placing it: a silo learns the
    /// others' roles from their metadata a moment after they join, and places nothing on a silo it knows no role of.
    /// </summary>
    public static async Task<T> OnceRolesAreKnown<T>(Func<Task<T>> call)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (GridException e) when (e.Message.Contains("role not known yet", StringComparison.Ordinal) && attempt < 300)
            {
                await Task.Delay(100);
            }
        }
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            // TestCluster names silos Primary, Secondary_1, Secondary_2... in the order they start.
            string name = siloBuilder.Configuration["Orleans:Name"]!;
            int index = name == "Primary" ? 0 : int.Parse(name["Secondary_".Length..], System.Globalization.CultureInfo.InvariantCulture);
            SiloRole role = Enum.Parse<SiloRole>(siloBuilder.Configuration[RolesKey]!.Split(',')[index], ignoreCase: true);
            siloBuilder.AddMarketIntelGrid(o => o.Features = ClusterFixture.Spec, role: role);
        }
    }
}

public sealed class ServingAndWorkerCluster() : RoleCluster(SiloRole.Serving, SiloRole.Worker);

public sealed class ServingOnlyCluster() : RoleCluster(SiloRole.Serving);

/// <summary>Where grains of each role activate, in real in-process clusters whose silos have roles.</summary>
public sealed class RolePlacementTests(ServingAndWorkerCluster split, ServingOnlyCluster servingOnly, ClusterFixture all)
    : IClassFixture<ServingAndWorkerCluster>, IClassFixture<ServingOnlyCluster>, IClassFixture<ClusterFixture>
{
    private const int Grains = 24;

    [Fact]
    public async Task Job_grains_activate_only_on_the_worker_silo()
    {
        for (int key = 0; key < Grains; key++)
        {
            string silo = await RoleCluster.OnceRolesAreKnown(() => split.Grains.GetGrain<IJobProbeGrain>(key).Silo());
            Assert.Equal(split.SiloOf(SiloRole.Worker), silo);
        }
    }

    [Fact]
    public async Task Serving_grains_and_every_asset_grain_activate_only_on_the_serving_silo()
    {
        for (int key = 0; key < Grains; key++)
        {
            string silo = await RoleCluster.OnceRolesAreKnown(() => split.Grains.GetGrain<IServingProbeGrain>(key).Silo());
            Assert.Equal(split.SiloOf(SiloRole.Serving), silo);
        }
        var msft = BarCsv.Read(RepoPaths.Data("msft-daily.csv"));
        string[] assets = [.. Enumerable.Range(0, Grains).Select(a => $"ROLE{a}-{Guid.NewGuid():N}")];
        foreach (string asset in assets)
        {
            var result = await RoleCluster.OnceRolesAreKnown(() => split.Grains.GetGrain<IAssetGrain>(asset).AddBars(SeriesBars.Of(msft, 0, 30)));
            Assert.Equal(30, result.Accepted);
        }
        var activations = await split.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var placed = activations.Where(a => a.GrainType.Contains(nameof(AssetGrain), StringComparison.Ordinal) && assets.Contains(a.GrainId.Key.ToString())).ToList();
        Assert.Equal(assets.Length, placed.Count);
        Assert.All(placed, a => Assert.Equal(split.SiloOf(SiloRole.Serving), a.SiloAddress.ToString()));
    }

    [Fact]
    public async Task The_model_registry_and_the_promotion_policy_activate_only_on_the_serving_silo()
    {
        await RoleCluster.OnceRolesAreKnown(() => split.Grains.GetGrain<IModelRegistryGrain>(0).ListModels());
        await RoleCluster.OnceRolesAreKnown(async () => await split.Grains.GetGrain<IAutoPromotionGrain>(0).GetStatus());
        var activations = await split.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        foreach (string grain in new[] { nameof(ModelRegistryGrain), nameof(AutoPromotionGrain) })
        {
            var placed = activations.Where(a => a.GrainType.Contains(grain, StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(placed);
            Assert.All(placed, a => Assert.Equal(split.SiloOf(SiloRole.Serving), a.SiloAddress.ToString()));
        }
    }

    [Fact]
    public async Task With_no_worker_silo_a_job_grain_fails_at_once_saying_it_waits_for_one_and_never_lands_on_the_serving_silo()
    {
        var e = await Assert.ThrowsAsync<GridException>(() => servingOnly.Grains.GetGrain<IJobProbeGrain>(1).Silo());
        Assert.Equal(GridErrorKind.Unavailable, e.Kind);
        Assert.StartsWith("no worker silo in the cluster: ", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{servingOnly.SiloOf(SiloRole.Serving)} (serving)", e.Message, StringComparison.Ordinal);
        Assert.Contains("--role worker", e.Message, StringComparison.Ordinal);
        var activations = await servingOnly.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        Assert.DoesNotContain(activations, a => a.GrainType.Contains(nameof(JobProbeGrain), StringComparison.Ordinal));
        // The same silo serves: the refusal is the job's alone.
        Assert.Equal(servingOnly.SiloOf(SiloRole.Serving), await servingOnly.Grains.GetGrain<IServingProbeGrain>(1).Silo());
    }

    [Fact]
    public async Task Silos_of_role_all_take_grains_of_both_kinds()
    {
        var silos = all.Cluster.Silos.Select(s => s.SiloAddress.ToString()).ToHashSet();
        for (int key = 0; key < Grains; key++)
        {
            Assert.Contains(await RoleCluster.OnceRolesAreKnown(() => all.Grains.GetGrain<IJobProbeGrain>(key).Silo()), silos);
            Assert.Contains(await RoleCluster.OnceRolesAreKnown(() => all.Grains.GetGrain<IServingProbeGrain>(key).Silo()), silos);
        }
    }
}
