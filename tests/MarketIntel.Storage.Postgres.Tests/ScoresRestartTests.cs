using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Grains;
using MarketIntel.Grains.Assets;
using MarketIntel.Inference;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// Live outcome scores in cluster mode: asset grains on the PostgreSQL tables (grain state, bar archive, scores) keep
/// their tallies across a restart of the whole cluster, and the predictions still waiting for their outcome when the
/// grains deactivated: scoring goes on as if the asset had never stopped, unless the archive moved on without them.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class ScoresRestartTests(PostgresFixture postgres)
{
    private static readonly BarSeries Msft = BarCsv.Read(RepoPaths.Data("msft-daily.csv"));

    // The silo runs in this process: its configurator reaches these through static fields.
    private static string _connection = "";
    private static readonly InMemoryModelStore Models = new();

    private static readonly ModelRef Served = new("dir", "v1");
    private static readonly ModelRef Shadow = new("dir", "v2");

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMarketIntelPostgres(o => o.Configure(p => p.ConnectionString = _connection));
            // The registry's versions with their labels (lineage), in place of its tables: this test is about scores.
            siloBuilder.Services.AddSingleton<IModelStore>(Models);
            siloBuilder.AddMarketIntelGrid(o =>
            {
                o.Features = "sma_5";
                o.Scoring.FlushInterval = TimeSpan.FromHours(1);  // only deactivation writes: the restart is what is tested
            }, inMemoryStorage: false);
        }
    }

    // Grain state is kept per service: the restarted cluster is the same service.
    private static Task<TestCluster> Start() => OneSiloCluster.Start<Configurator>("scores-restart");

    private static Task Stop(TestCluster cluster) => OneSiloCluster.Stop(cluster);

    private static BarData[] BarsOf(int from, int count) => SeriesBars.Of(Msft, from, count);

    private static async Task Register(ModelRef model, string[] features, float threshold)
    {
        byte[] bytes = HandModels.Stumps(features, [.. features.Select(_ => threshold)], [.. features.Select(_ => (-0.3f, 0.4f))], out Model loaded);
        using (loaded)
        {
            await OneSiloCluster.AddLabelled(Models, model, bytes, loaded, "up_3");
        }
    }

    [Fact]
    public async Task Scores_and_pending_predictions_survive_a_cluster_restart_and_scoring_goes_on_as_if_unbroken()
    {
        await NewDatabase();
        ModelScores before = await ScoreFirstBarsAndStop();

        TestCluster cluster = await Start();
        try
        {
            var store = new Storage.PostgresScoreStore(Npgsql.NpgsqlDataSource.Create(_connection));
            Assert.Equal(37, (await store.Totals("dir")).Versions.Single(t => t.Model == Served).Outcomes);

            await cluster.Client.GetGrain<IModelRegistryGrain>(0).SetShadow(Shadow, true, "test");  // the registry's deployments are not this test's
            var asset = cluster.Client.GetGrain<IAssetGrain>("MSFT");
            ModelScores after = await asset.GetScores();
            foreach (OutcomeTally tally in before.Versions)
            {
                OutcomeTally read = after.Versions.Single(t => t.Model == tally.Model);
                Assert.Equal((tally.Outcomes, tally.Hits, tally.Kind, tally.Horizon), (read.Outcomes, read.Hits, read.Kind, read.Horizon));
                Assert.Equal(tally.LogLossSum, read.LogLossSum, 1e-12);
                Assert.Equal(tally.BrierSum, read.BrierSum, 1e-12);
            }
            PairTally pair = Assert.Single(after.Pairs);
            Assert.Equal(before.Pairs[0].LagProducts, pair.LagProducts);
            Assert.Equal(before.Pairs[0].DifferenceSum, pair.DifferenceSum, 1e-12);

            await AssertScoringGoesOnAsIfUnbroken(cluster);
        }
        finally
        {
            await Stop(cluster);
        }
    }

    [Fact]
    public async Task Pending_predictions_survive_an_idle_collection_of_the_grain()
    {
        await NewDatabase();
        await RegisterVersions();
        TestCluster cluster = await Start();
        try
        {
            await ScoreFirstBars(cluster);
            var management = cluster.Client.GetGrain<IManagementGrain>(0);
            Assert.True(await IsActive(management, "MSFT"));
            await management.ForceActivationCollection(TimeSpan.Zero);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (await IsActive(management, "MSFT") && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.False(await IsActive(management, "MSFT"), "the asset's grain was collected");
            await AssertScoringGoesOnAsIfUnbroken(cluster);
        }
        finally
        {
            await Stop(cluster);
        }
    }

    private static async Task<bool> IsActive(IManagementGrain management, string asset) =>
        (await management.GetDetailedGrainStatistics()).Any(s => s.GrainType.Contains(nameof(AssetGrain), StringComparison.Ordinal) && s.GrainId.Key.ToString() == asset);

    // MSFT took bars 0-39 in an earlier activation: the 3 predictions pending then are scored by the next 3 bars, and
    // every sum (the pair's lag products too) equals that of an asset that takes all 50 bars in one activation.
    private static async Task AssertScoringGoesOnAsIfUnbroken(TestCluster cluster)
    {
        var asset = cluster.Client.GetGrain<IAssetGrain>("MSFT");
        await asset.AddBars(BarsOf(40, 10));
        var unbroken = cluster.Client.GetGrain<IAssetGrain>("UNBROKEN");
        await unbroken.AssignModel(Served);
        await unbroken.AddBars(BarsOf(0, 50));
        ModelScores resumed = await asset.GetScores(), expected = await unbroken.GetScores();
        Assert.Equal(47, resumed.Versions.Single(t => t.Model == Served).Outcomes);
        Assert.Equal(47, resumed.Versions.Single(t => t.Model == Shadow).Outcomes);
        AssertSame(expected, resumed);
    }

    [Fact]
    public async Task Pending_predictions_are_not_resumed_when_the_archive_holds_a_bar_they_were_not_scored_on()
    {
        await NewDatabase();
        await ScoreFirstBarsAndStop();

        // A bar archived while no activation scored it (as an overlapping activation's append would): the predictions
        // pending at bar 40 would be scored against the wrong bars, so the next activation starts them afresh.
        using (var database = Npgsql.NpgsqlDataSource.Create(_connection))
        {
            await using var archive = new Storage.PostgresBarArchive(database, batchRows: 100, writers: 1);
            BarData bar = BarsOf(40, 1)[0];
            await archive.Append("MSFT", await archive.Claim("MSFT"), [new StoredBar(bar.Timestamp, new Bar(bar.Open, bar.High, bar.Low, bar.Close, bar.Volume))]);
        }

        TestCluster cluster = await Start();
        try
        {
            await cluster.Client.GetGrain<IModelRegistryGrain>(0).SetShadow(Shadow, true, "test");
            var asset = cluster.Client.GetGrain<IAssetGrain>("MSFT");
            Assert.Equal(BarsOf(40, 1)[0].Timestamp, (await asset.GetFeatures()).AsOf);  // the replay took the bar in
            await asset.AddBars(BarsOf(41, 10));
            // The first 3 bars of this activation score nothing, the 7 after one each.
            Assert.Equal(37 + 7, (await asset.GetScores()).Versions.Single(t => t.Model == Served).Outcomes);
        }
        finally
        {
            await Stop(cluster);
        }
    }

    private async Task NewDatabase()
    {
        _connection = postgres.NewDatabase();
        using var database = Npgsql.NpgsqlDataSource.Create(_connection);
        await Migrations.Migrator.MigrateAsync(database);
    }

    private static async Task RegisterVersions()
    {
        double median = Msft.Close.Take(40).Order().ElementAt(20);
        await Register(Served, ["sma_2"], (float)median);
        await Register(Shadow, ["ema_3"], (float)median);
    }

    // Scores MSFT's first 40 bars with the served version and the shadow (up_3: 37 outcomes each, 3 predictions pending).
    private static async Task<ModelScores> ScoreFirstBars(TestCluster cluster)
    {
        await cluster.Client.GetGrain<IModelRegistryGrain>(0).SetShadow(Shadow, true, "test");
        var asset = cluster.Client.GetGrain<IAssetGrain>("MSFT");
        await asset.AssignModel(Served);
        await asset.AddBars(BarsOf(0, 40));
        ModelScores scores = await asset.GetScores();
        Assert.Equal(37, scores.Versions.Single(t => t.Model == Served).Outcomes);
        Assert.Equal(37, Assert.Single(scores.Pairs).Pairs);
        return scores;
    }

    // The first 40 bars scored in a cluster that then stops, which deactivates the asset.
    private static async Task<ModelScores> ScoreFirstBarsAndStop()
    {
        await RegisterVersions();
        TestCluster cluster = await Start();
        try
        {
            return await ScoreFirstBars(cluster);
        }
        finally
        {
            await Stop(cluster);  // deactivating, the asset writes its tallies and its pending predictions
        }
    }

    private static void AssertSame(ModelScores expected, ModelScores actual)
    {
        Assert.Equal(expected.Versions.Count, actual.Versions.Count);
        foreach (OutcomeTally tally in expected.Versions)
        {
            OutcomeTally read = actual.Versions.Single(t => t.Model == tally.Model);
            Assert.Equal((tally.Outcomes, tally.Hits), (read.Outcomes, read.Hits));
            Assert.Equal(tally.LogLossSum, read.LogLossSum, 1e-12);
            Assert.Equal(tally.BrierSum, read.BrierSum, 1e-12);
        }
        PairTally pair = Assert.Single(actual.Pairs), unbroken = Assert.Single(expected.Pairs);
        Assert.Equal((unbroken.Pairs, unbroken.BothHit, unbroken.ChampionOnlyHits, unbroken.ChallengerOnlyHits),
            (pair.Pairs, pair.BothHit, pair.ChampionOnlyHits, pair.ChallengerOnlyHits));
        Assert.Equal(unbroken.DifferenceSum, pair.DifferenceSum, 1e-12);
        Assert.Equal(unbroken.DifferenceSquareSum, pair.DifferenceSquareSum, 1e-12);
        Assert.Equal(unbroken.LagCounts, pair.LagCounts);
        for (int l = 0; l < unbroken.LagProducts.Length; l++)
        {
            Assert.Equal(unbroken.LagProducts[l], pair.LagProducts[l], 1e-12);
            Assert.Equal(unbroken.LagLeading[l], pair.LagLeading[l], 1e-12);
            Assert.Equal(unbroken.LagTrailing[l], pair.LagTrailing[l], 1e-12);
        }
    }
}
