using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Grains.Retraining.Triggers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>Two worker silos: the first advertises a 4-core CPU taking 1 job at once, the second a 16-core one taking 3.</summary>
public sealed class UnevenWorkersCluster() : ConfiguredCluster<UnevenWorkersCluster.Configurator>(2)
{
    public static readonly WorkerDevice Small = WorkerDevice.Cpu(4, 1);
    public static readonly WorkerDevice Large = WorkerDevice.Cpu(16, 3);

    public string SiloOf(WorkerDevice device) => Cluster.Silos[device == Small ? 0 : 1].SiloAddress.ToString();

    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.AddMarketIntelGrid(o => o.Features = ClusterFixture.Spec, role: SiloRole.Worker,
                device: siloBuilder.Configuration["Orleans:Name"] == "Primary" ? Small : Large);
    }
}

/// <summary>A grain that says which silo it lives on, placed as the workers' services (the retraining watch) are.</summary>
public interface IWorkerServiceProbeGrain : IGrainWithIntegerKey
{
    Task<string> Silo();
}

[WorkerPlacement, WorkerService]
public sealed class WorkerServiceProbeGrain(ILocalSiloDetails silo) : Grain, IWorkerServiceProbeGrain
{
    public Task<string> Silo() => Task.FromResult(silo.SiloAddress.ToString());
}

/// <summary>
/// One worker taking 2 jobs at once (the first silo); a test starts a second taking 1, so that what lives on the first
/// before the second joins is known.
/// </summary>
public sealed class LateSecondWorkerCluster() : ConfiguredCluster<LateSecondWorkerCluster.Configurator>(1)
{
    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.AddMarketIntelGrid(o => o.Features = ClusterFixture.Spec, role: SiloRole.Worker,
                device: WorkerDevice.Cpu(8, siloBuilder.Configuration["Orleans:Name"] == "Primary" ? 2 : 1));
    }
}

/// <summary>Each worker advertises its device and job slots in its silo metadata, and jobs go to the worker with the most free slots.</summary>
public sealed class WorkerSlotsTests(UnevenWorkersCluster workers) : IClassFixture<UnevenWorkersCluster>
{
    [Fact]
    public async Task Each_job_goes_to_the_worker_with_the_most_free_job_slots()
    {
        async Task<string> Place(int key) => await RoleCluster.OnceRolesAreKnown(() => workers.Cluster.Client.GetGrain<IJobProbeGrain>(key).Silo());
        string large = workers.SiloOf(UnevenWorkersCluster.Large), small = workers.SiloOf(UnevenWorkersCluster.Small);

        // Free slots 3 against 1, then 2 against 1: the large worker both times.
        Assert.Equal(large, await Place(1));
        Assert.Equal(large, await Place(2));
        // Then 1 against 1 (either may take the third) and whichever took it has none left: the fourth goes to the other.
        string[] next = [await Place(3), await Place(4)];
        Assert.Equal(new[] { large, small }.Order(StringComparer.Ordinal), next.Order(StringComparer.Ordinal));
        var activations = await workers.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var jobs = activations.Where(a => a.GrainType.Contains(nameof(JobProbeGrain), StringComparison.Ordinal)).GroupBy(a => a.SiloAddress.ToString()).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, jobs[large]);
        Assert.Equal(1, jobs[small]);
    }

    [Fact]
    public void A_silo_publishes_its_device_and_job_slots_and_the_slots_default_to_a_quarter_of_the_cores()
    {
        var metadata = workers.Cluster.Silos.Select(s => workers.Cluster.GetSiloServiceProvider(s.SiloAddress).GetRequiredService<IOptions<SiloMetadata>>().Value.Metadata).ToList();
        Assert.Equal("cpu:4", metadata[0][WorkerDevice.DeviceKey]);
        Assert.Equal("1", metadata[0][WorkerDevice.JobSlotsKey]);
        Assert.Equal("cpu:16", metadata[1][WorkerDevice.DeviceKey]);
        Assert.Equal("3", metadata[1][WorkerDevice.JobSlotsKey]);

        Assert.Equal(4, WorkerDevice.Cpu(16).JobSlots);
        Assert.Equal(1, WorkerDevice.Cpu(2).JobSlots);
        Assert.Equal("cpu:16, 4 jobs at once", WorkerDevice.Cpu(16).ToString());
        Assert.Equal("cpu:2, 1 job at once", WorkerDevice.Cpu(2).ToString());
        Assert.Equal(Environment.ProcessorCount, int.Parse(WorkerDevice.ThisMachine().Device["cpu:".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_job_slot_count_out_of_range_is_refused_naming_the_setting()
    {
        var validator = new WorkerSlotsOptionsValidator();
        Assert.False(validator.Validate(null, new WorkerSlotsOptions()).Failed);
        Assert.False(validator.Validate(null, new WorkerSlotsOptions { MaxJobsPerWorker = 8 }).Failed);
        Assert.Equal(
            ["Grid:Retraining:MaxJobsPerWorker 0 must be between 1 and 1024 (leave it unset for one job per four cores)"],
            validator.Validate(null, new WorkerSlotsOptions { MaxJobsPerWorker = 0 }).Failures);
    }

    [Fact]
    public void Only_job_grains_are_counted_against_job_slots_and_the_retraining_watch_is_not_a_job()
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        bool Counted(Type grainClass)
        {
            var properties = new Dictionary<string, string>();
            WorkerPlacement.Singleton.PopulateGrainProperties(services, grainClass, GrainType.Create("probe"), properties);
            return properties.ContainsKey(WorkerPlacement.JobClassProperty);
        }
        Assert.True(Counted(typeof(RetrainJobGrain)));
        Assert.True(Counted(typeof(JobProbeGrain)));
        Assert.False(Counted(typeof(RetrainWatchGrain)));
        Assert.False(Counted(typeof(WorkerServiceProbeGrain)));
    }

    [Fact]
    public async Task A_worker_service_takes_no_job_slot_so_a_job_still_goes_to_the_worker_with_more_free_slots()
    {
        var cluster = new LateSecondWorkerCluster();
        await cluster.InitializeAsync();
        try
        {
            // Two services on the first worker (2 job slots), while it is the only worker.
            string first = cluster.Cluster.Primary!.SiloAddress.ToString();
            foreach (int key in new[] { 1, 2 })
            {
                Assert.Equal(first, await RoleCluster.OnceRolesAreKnown(() => cluster.Cluster.Client.GetGrain<IWorkerServiceProbeGrain>(key).Silo()));
            }
            // The second worker (1 slot) joins; once each silo knows the other's role and slots, a job is placed. Counted
            // as jobs, the services would leave the first worker no free slot, and the job would go to the second.
            SiloHandle second = await cluster.Cluster.StartAdditionalSiloAsync();
            await cluster.Cluster.WaitForLivenessToStabilizeAsync();
            await EachKnowsTheOther(cluster.Cluster);
            Assert.Equal(first, await cluster.Cluster.Client.GetGrain<IJobProbeGrain>(1).Silo());
            // And a second job finds 1 free slot on each: either may take it; a third then goes where one is left.
            string[] next = [await cluster.Cluster.Client.GetGrain<IJobProbeGrain>(2).Silo(), await cluster.Cluster.Client.GetGrain<IJobProbeGrain>(3).Silo()];
            Assert.Equal(new[] { first, second.SiloAddress.ToString() }.Order(StringComparer.Ordinal), next.Order(StringComparer.Ordinal));
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    // Polls each silo's metadata cache until it holds the other silo's job slots (metadata travels after a silo joins).
    private static async Task EachKnowsTheOther(TestCluster cluster)
    {
        SiloHandle[] silos = [.. cluster.Silos];
        for (int attempt = 0; attempt < 600; attempt++)
        {
            bool known = silos.All(s => silos.Where(o => o != s).All(o =>
                WorkerDevice.JobSlotsIn(cluster.GetSiloServiceProvider(s.SiloAddress).GetRequiredService<ISiloMetadataCache>().GetSiloMetadata(o.SiloAddress)) is not null));
            if (known)
            {
                return;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("the silos did not learn each other's job slots within 60 s");
    }
}
