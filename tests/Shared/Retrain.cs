using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Grains.Retraining;
using MarketIntel.Training.Retraining;

namespace MarketIntel.Tests;

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

    /// <summary>Every bar <paramref name="archive"/> holds of <paramref name="asset"/>, as a job reads them (for the same job on the CPU path alone).</summary>
    public static async Task<AssetBars> Archived(IBarArchive archive, string asset)
    {
        var archived = new List<StoredBar>();
        await foreach (StoredBar bar in archive.Read(asset))
        {
            archived.Add(bar);
        }
        return new AssetBars(asset, new BarSeries([.. archived.Select(b => b.Timestamp.ToString(CultureInfo.InvariantCulture))], [.. archived.Select(b => b.Bar.Open)],
            [.. archived.Select(b => b.Bar.High)], [.. archived.Select(b => b.Bar.Low)], [.. archived.Select(b => b.Bar.Close)], [.. archived.Select(b => b.Bar.Volume)]));
    }

    /// <summary>A manual request for <paramref name="name"/>.</summary>
    public static RetrainRequest Manual(string name, bool force = false) => new(name, RetrainTrigger.Manual, "test", "ana") { Force = force };

    /// <summary>The versions of <paramref name="name"/> that carry job <paramref name="id"/>'s tag.</summary>
    public static async Task<IReadOnlyList<ModelVersionDetails>> Tagged(IGrainFactory grains, string name, string id) =>
        [.. (await grains.GetGrain<IModelRegistryGrain>(0).GetModel(name)).Versions.Where(v => v.Tags.GetValueOrDefault(RetrainJobGrain.JobTag) == id)];

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
}
