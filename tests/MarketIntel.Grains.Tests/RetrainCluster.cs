using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// An in-process cluster for retraining: one silo per role given (the first <c>start</c> of them started at once, the
/// rest by <see cref="TestCluster.StartAdditionalSiloAsync(bool)"/>), checking jobs every 100 ms. With more than one
/// silo they share one bar archive, as cluster mode's silos share PostgreSQL's; a lone silo keeps the embedded one.
/// </summary>
public abstract class RetrainCluster(SiloRole[] roles, int start) : IAsyncLifetime
{
    private const string RolesKey = "Test:Roles";
    private const string ArchiveKey = "Test:Archive";

    // The archives shared by a cluster's silos, by cluster.
    private static readonly ConcurrentDictionary<string, InMemoryBarArchive> Archives = new(StringComparer.Ordinal);

    private readonly string _archive = Guid.NewGuid().ToString("N");

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>The archive the silos share (null for a lone silo, which keeps its own).</summary>
    public InMemoryBarArchive? SharedArchive => Archives.GetValueOrDefault(_archive);

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder((short)start);
        builder.Properties[RolesKey] = string.Join(',', roles.Select(r => r.Name()));
        builder.Properties[$"{RetrainingOptions.Section}:CheckInterval"] = "00:00:00.1";
        if (roles.Length > 1)
        {
            Archives[_archive] = new InMemoryBarArchive(20_000);
            builder.Properties[ArchiveKey] = _archive;
        }
        builder.AddSiloBuilderConfigurator<Configurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        Archives.TryRemove(_archive, out _);
    }

    /// <summary>A service of the silo at <paramref name="address"/>.</summary>
    public T Service<T>(string address)
        where T : notnull =>
        Cluster.Silos.Cast<InProcessSiloHandle>().Single(s => s.SiloAddress.ToString() == address).SiloHost.Services.GetRequiredService<T>();

    /// <summary>The silos started with <paramref name="role"/>, by address.</summary>
    public IReadOnlyList<string> SilosOf(SiloRole role) =>
        [.. Cluster.Silos.Where(s => roles[Index(s.Name)] == role).Select(s => s.SiloAddress.ToString())];

    // TestCluster names silos Primary, Secondary_1, Secondary_2... in the order they start.
    private static int Index(string name) => name == "Primary" ? 0 : int.Parse(name["Secondary_".Length..], CultureInfo.InvariantCulture);

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            IConfiguration configuration = siloBuilder.Configuration;
            SiloRole role = Enum.Parse<SiloRole>(configuration[RolesKey]!.Split(',')[Index(configuration["Orleans:Name"]!)], ignoreCase: true);
            if (configuration[ArchiveKey] is { } archive)
            {
                siloBuilder.Services.AddSingleton<IBarArchive>(Archives[archive]);
            }
            siloBuilder.Services.AddMarketIntelRetrainingOptions(o => o.Bind(configuration.GetSection(RetrainingOptions.Section)));
            siloBuilder.AddMarketIntelGrid(o => o.Features = ClusterFixture.Spec, role: role);
        }
    }
}

/// <summary>What the retraining tests share: the base model they retrain, the bars, and waiting for a job.</summary>
internal static class Retrain
{
    /// <summary>The base model's inputs: features the grid computes from bars.</summary>
    public static readonly string[] Inputs = ["sma_5", "rsi_14", "roc_10"];

    /// <summary>Daily OHLCV bars, 5,550 of them.</summary>
    public static readonly BarSeries Bars = BarCsv.Read(RepoPaths.Data("ttrc-daily.csv"));

    /// <summary>
    /// Registers version v1 of <paramref name="name"/> (one stump per input) with a lineage naming its spec, label
    /// up_1, booster parameters with <paramref name="rounds"/> rounds of depth <paramref name="depth"/> and the
    /// <paramref name="assets"/> it was trained on, and points the alias "champion" at it.
    /// </summary>
    public static async Task<string> RegisterBase(IGrainFactory grains, string name, int rounds, int depth, params string[] assets)
    {
        byte[] bytes = HandModels.Stumps(Inputs, [20, 50, 0], [(-0.1f, 0.1f), (0.1f, -0.1f), (-0.05f, 0.05f)], out var model);
        model.Dispose();
        var lineage = new JsonObject
        {
            ["tool"] = "test",
            ["spec"] = string.Join(',', Inputs),
            ["features"] = new JsonArray([.. Inputs.Select(i => JsonValue.Create(i))]),
            ["label"] = new JsonObject { ["name"] = "up_1", ["kind"] = "direction", ["horizon"] = 1 },
            ["parameters"] = new JsonObject { ["objective"] = "binary:logistic", ["rounds"] = rounds, ["maxDepth"] = depth, ["eta"] = 0.1 },
            ["data"] = new JsonObject { ["assets"] = new JsonArray([.. assets.Select(a => JsonValue.Create(a))]) },
        };
        await grains.GetGrain<IModelRegistryGrain>(0).Register(new ModelRegistration(name, "v1", bytes, lineage.ToJsonString(), null, RetrainJobGrain.ServedAlias, "test"));
        return "v1";
    }

    /// <summary>Bars <paramref name="from"/> to <paramref name="from"/> + <paramref name="count"/> as the archive keeps them.</summary>
    public static StoredBar[] Stored(int from, int count) =>
        [.. SeriesBars.Of(Bars, from, count).Select(b => new StoredBar(b.Timestamp, new Bar(b.Open, b.High, b.Low, b.Close, b.Volume)))];

    /// <summary>A manual request for <paramref name="name"/>.</summary>
    public static RetrainRequest Manual(string name, bool force = false) => new(name, RetrainTrigger.Manual, "test", "ana") { Force = force };

    /// <summary>Polls the job until <paramref name="done"/> holds of it (three minutes at most: the machine may be loaded).</summary>
    public static async Task<RetrainJob> Until(IRetrainCoordinatorGrain coordinator, string id, Func<RetrainJob, bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            RetrainJob job = await coordinator.Get(id);
            if (done(job))
            {
                return job;
            }
            if (clock.Elapsed > TimeSpan.FromMinutes(3))
            {
                Assert.Fail($"job {id} did not reach '{what}' in {clock.Elapsed}: it is {job.State} ({job.Detail}), attempt {job.Attempt}, progress {job.Progress}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The versions of <paramref name="name"/> that carry job <paramref name="id"/>'s tag.</summary>
    public static async Task<IReadOnlyList<ModelVersionDetails>> Tagged(IGrainFactory grains, string name, string id) =>
        [.. (await grains.GetGrain<IModelRegistryGrain>(0).GetModel(name)).Versions.Where(v => v.Tags.GetValueOrDefault(RetrainJobGrain.JobTag) == id)];
}
