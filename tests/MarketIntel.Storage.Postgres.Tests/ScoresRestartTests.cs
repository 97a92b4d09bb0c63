using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Grains;
using MarketIntel.Inference;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// Live outcome scores in cluster mode: asset grains on the PostgreSQL tables (grain state, bar archive, scores) keep
/// their tallies across a restart of the whole cluster, and scoring goes on from them.
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
    public async Task Scores_survive_a_cluster_restart_and_scoring_goes_on_from_them()
    {
        _connection = postgres.NewDatabase();
        using (var database = Npgsql.NpgsqlDataSource.Create(_connection))
        {
            await Migrations.Migrator.MigrateAsync(database);
        }
        double median = Msft.Close.Take(40).Order().ElementAt(20);
        await Register(Served, ["sma_2"], (float)median);
        await Register(Shadow, ["ema_3"], (float)median);

        TestCluster cluster = await Start();
        ModelScores before;
        try
        {
            await cluster.Client.GetGrain<IModelRegistryGrain>(0).SetShadow(Shadow, true, "test");
            var asset = cluster.Client.GetGrain<IAssetGrain>("MSFT");
            await asset.AssignModel(Served);
            await asset.AddBars(BarsOf(0, 40));
            before = await asset.GetScores();
            Assert.Equal(37, before.Versions.Single(t => t.Model == Served).Outcomes);
            Assert.Equal(37, Assert.Single(before.Pairs).Pairs);
        }
        finally
        {
            await Stop(cluster);  // deactivating, the asset writes its tallies
        }

        cluster = await Start();
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

            // The predictions pending at the restart are gone: the next 3 bars score nothing, the 7 after one each.
            await asset.AddBars(BarsOf(40, 10));
            Assert.Equal(37 + 7, (await asset.GetScores()).Versions.Single(t => t.Model == Served).Outcomes);
        }
        finally
        {
            await Stop(cluster);
        }
    }
}
