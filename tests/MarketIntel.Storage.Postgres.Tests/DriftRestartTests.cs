using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;
using MarketIntel.Grains;
using MarketIntel.Grains.Drift;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// Drift windows in cluster mode: an asset grain on PostgreSQL writes its window as it deactivates, and after the whole
/// cluster restarts the stored counts evaluate to exactly the statistics the grain reported before.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class DriftRestartTests(PostgresFixture postgres)
{
    private static string _connection = "";

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMarketIntelPostgres(o => o.Configure(p => p.ConnectionString = _connection));
            siloBuilder.AddMarketIntelGrid(o =>
            {
                o.Features = "sma_5";
                o.Drift.Window = 100;
                o.Drift.FlushInterval = TimeSpan.FromHours(1);  // only deactivation writes: the restart is what is tested
            }, inMemoryStorage: false);
        }
    }

    private static async Task<TestCluster> Start()
    {
        var builder = new TestClusterBuilder(1);
        builder.Options.ServiceId = "drift-restart";
        builder.AddSiloBuilderConfigurator<Configurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private static async Task Stop(TestCluster cluster)
    {
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }

    [Fact]
    public async Task The_stored_window_survives_a_cluster_restart_and_evaluates_as_the_grain_did()
    {
        _connection = postgres.NewDatabase();
        using (var database = Npgsql.NpgsqlDataSource.Create(_connection))
        {
            await Migrations.Migrator.MigrateAsync(database);
        }
        ReferenceProfile profile = DriftSeries.Profile(DriftSeries.Walk(seed: 1, count: 4000, sigma: 0.01));
        var model = new ModelRef("walk", "v1");
        AssetDrift before;
        TestCluster cluster = await Start();
        try
        {
            byte[] bytes = DriftSeries.Model(out var loaded);
            loaded.Dispose();
            await cluster.Client.GetGrain<IModelRegistryGrain>(0).Register(new ModelRegistration(model.Name, model.Version, bytes, DriftSeries.Lineage(profile), null, null, "test"));
            IAssetGrain asset = cluster.Client.GetGrain<IAssetGrain>("WALK");
            await asset.AssignModel(model);
            BarSeries walk = DriftSeries.Walk(seed: 2, count: 150, sigma: 0.02);
            await asset.AddBars(DriftSeries.Bars(walk, 0, 150));
            before = await asset.GetDrift();
            Assert.Equal(DriftStatus.Ok, before.Status);
        }
        finally
        {
            await Stop(cluster);  // deactivating, the asset writes its window
        }

        cluster = await Start();
        try
        {
            using var database = Npgsql.NpgsqlDataSource.Create(_connection);
            DriftCounts stored = Assert.Single(await new PostgresDriftStore(database).Read("walk"));
            Assert.Equal(("WALK", model, 100, 100), (stored.Asset, stored.Model, stored.Window, stored.Count));
            AssetDrift evaluated = DriftScanner.Evaluate(stored, profile, 0.01);
            Assert.True(DriftSeries.Agree([.. before.Features, before.Prediction!], [.. evaluated.Features, evaluated.Prediction!]));
            Assert.True(evaluated.Drifting);
        }
        finally
        {
            await Stop(cluster);
        }
    }
}
