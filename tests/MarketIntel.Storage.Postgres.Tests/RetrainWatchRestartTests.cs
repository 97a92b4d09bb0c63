using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Grains;
using MarketIntel.Grains.Retraining.Triggers;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// The retraining watch in cluster mode keeps its counts in PostgreSQL's grain storage: a cluster stopped between two
/// checks and started again on the same database goes on counting the model's new bars from where it was, and never
/// checks an interval it checked before. With the drift windows' database unreachable, the scan fails alone.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class RetrainWatchRestartTests(PostgresFixture postgres)
{
    private const string Name = "watched";

    // The silos run in this process: their configurator reaches these through static fields.
    private static readonly RecordingRetrainTriggers Triggers = new();
    private static string _connection = "";

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<IRetrainTriggers>(Triggers);
            siloBuilder.AddMarketIntelPostgres(o => o.Configure(p => p.ConnectionString = _connection));
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5", inMemoryStorage: false);
            siloBuilder.Services.Configure<RetrainTriggerOptions>(o => o.BarVolume = 500);
        }
    }

    private static IScoreStore Scores(TestCluster cluster) =>
        ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services.GetRequiredService<IScoreStore>();

    private static Task Scored(TestCluster cluster, long outcomes) =>
        Scores(cluster).Save("W1", new ModelScores(
            [new OutcomeTally { Model = new ModelRef(Name, "v1"), Kind = LabelKind.Direction, Horizon = 1, Outcomes = outcomes, Hits = outcomes * 9 / 10 }], []));

    private static Task<RetrainWatchReport?> Check(TestCluster cluster, long interval) =>
        cluster.Client.GetGrain<IRetrainWatchGrain>(0).Check(interval);

    [Fact]
    public async Task The_bar_count_survives_a_cluster_restart_and_no_interval_is_checked_twice()
    {
        _connection = postgres.NewDatabase();
        using (var database = Npgsql.NpgsqlDataSource.Create(_connection))
        {
            await Migrations.Migrator.MigrateAsync(database);
        }
        const long start = 1_767_225_600_000;
        TestCluster cluster = await OneSiloCluster.Start<Configurator>("retrain-watch-restart");
        try
        {
            byte[] bytes = DriftSeries.Model(out var model);
            model.Dispose();
            await cluster.Client.GetGrain<IModelRegistryGrain>(0).Register(
                new ModelRegistration(Name, "v1", bytes, DriftSeries.Lineage(null), null, "champion", "test"));
            await Scored(cluster, 100);
            Assert.Empty((await Check(cluster, start))!.Sent);
            await Scored(cluster, 400);
            Assert.Empty((await Check(cluster, start + 60_000))!.Sent);  // 300 new bars
        }
        finally
        {
            await OneSiloCluster.Stop(cluster);
        }

        cluster = await OneSiloCluster.Start<Configurator>("retrain-watch-restart");
        try
        {
            Assert.Null(await Check(cluster, start + 60_000));
            await Scored(cluster, 700);
            RetrainWatchReport report = (await Check(cluster, start + 120_000))!;
            RetrainRequest request = Assert.Single(report.Sent);
            Assert.Equal((Name, RetrainTrigger.BarVolume), (request.Name, request.Trigger));
            Assert.StartsWith("bar volume: 600 new bars since 2026-01-01T00:00:00Z, when the watch began counting", request.Reason, StringComparison.Ordinal);
            Assert.Contains(request, Triggers.Sent);
        }
        finally
        {
            await OneSiloCluster.Stop(cluster);
        }
    }

    private sealed class UnreachableDriftStoreConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            // Nothing listens on the port: every read of the drift windows fails as with PostgreSQL down.
            int port = MarketIntel.Server.Hosting.FreePorts.Pick(1)[0];
            siloBuilder.Services.AddSingleton<IDriftStore>(new Storage.PostgresDriftStore(
                Npgsql.NpgsqlDataSource.Create($"Host=127.0.0.1;Port={port};Username=nobody;Timeout=2")));
            siloBuilder.Services.AddSingleton<IRetrainTriggers>(Triggers);
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5");
            siloBuilder.Services.Configure<RetrainTriggerOptions>(o => o.BarVolume = 500);
        }
    }

    [Fact]
    public async Task With_the_drift_windows_unreadable_the_scan_fails_alone_and_bar_volume_still_asks()
    {
        const string name = "unscanned";
        TestCluster cluster = await OneSiloCluster.Start<UnreachableDriftStoreConfigurator>();
        try
        {
            byte[] bytes = DriftSeries.Model(out var model);
            model.Dispose();
            await cluster.Client.GetGrain<IModelRegistryGrain>(0).Register(
                new ModelRegistration(name, "v1", bytes, DriftSeries.Lineage(null), null, "champion", "test"));
            IScoreStore scores = Scores(cluster);
            Task Scored(long outcomes) => scores.Save("U1", new ModelScores(
                [new OutcomeTally { Model = new ModelRef(name, "v1"), Kind = LabelKind.Direction, Horizon = 1, Outcomes = outcomes, Hits = outcomes }], []));
            await Scored(100);
            RetrainWatchReport first = (await Check(cluster, 1_767_225_600_000))!;
            Assert.Contains(first.Held, h => h.StartsWith("the drift scan failed (the drift windows could not be read", StringComparison.Ordinal));
            await Scored(700);
            RetrainWatchReport second = (await Check(cluster, 1_767_225_660_000))!;
            Assert.Contains(second.Held, h => h.StartsWith("the drift scan failed", StringComparison.Ordinal));
            RetrainRequest request = Assert.Single(second.Sent);
            Assert.Equal((name, RetrainTrigger.BarVolume), (request.Name, request.Trigger));
        }
        finally
        {
            await OneSiloCluster.Stop(cluster);
        }
    }
}
