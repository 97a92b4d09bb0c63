using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains;
using MarketIntel.Grains.Retraining;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// A retraining job in cluster mode's tables outlives its cluster: stopped while it trains, the job's record says it
/// was running; a cluster started again on the same database picks it up (its coordinator reads it back, finds no grain
/// running it and starts it again), trains on the archive's bars in PostgreSQL and registers exactly one version.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class RetrainRestartTests(PostgresFixture postgres) : IDisposable
{
    private static readonly string[] Assets = ["R1", "R2", "R3"];
    private const int BarsPerAsset = 5000;

    // The silos run in this process: their configurator reaches the database through this field.
    private static NpgsqlDataSource? s_database;

    private readonly NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    public void Dispose() => _database.Dispose();

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<IModelStore>(new PostgresModelStore(s_database!));
            siloBuilder.Services.AddSingleton<IRetrainJobStore>(new PostgresRetrainJobStore(s_database!));
            siloBuilder.Services.AddSingleton<IBarArchive>(_ => new PostgresBarArchive(s_database!, batchRows: 5000, writers: 1));
            siloBuilder.Services.AddMarketIntelRetrainingOptions(o => o.Configure(r => r.CheckInterval = TimeSpan.FromMilliseconds(100)));
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5");
        }
    }

    [Fact]
    public async Task A_job_running_when_its_cluster_stops_is_picked_up_by_the_next_cluster_and_registers_exactly_one_version()
    {
        s_database = _database;
        await using (var archive = new PostgresBarArchive(_database, batchRows: 5000, writers: 1))
        {
            foreach (string asset in Assets)
            {
                await archive.Append(asset, 0, Retrain.Stored(0, BarsPerAsset));
            }
        }

        TestCluster first = await OneSiloCluster.Start<Configurator>();
        string id;
        try
        {
            // Enough rounds that the job is still training when the cluster stops.
            await Retrain.RegisterBase(first.Client, "dir", rounds: 500, depth: 6, Assets);
            IRetrainCoordinatorGrain coordinator = first.Client.GetGrain<IRetrainCoordinatorGrain>("dir");
            RetrainStart start = await coordinator.Request(Retrain.Manual("dir"));
            Assert.True(start.Started, start.Reason);
            id = start.Job!.Id;
            await Retrain.Until(coordinator, id, j => j.State == RetrainJobState.Running && j.Progress.Rows > 0, "training");
        }
        finally
        {
            await OneSiloCluster.Stop(first);
        }
        RetrainJob stored = (await new PostgresRetrainJobStore(_database).Get(id))!;
        Assert.Equal((RetrainJobState.Running, 1), (stored.State, stored.Attempt));

        TestCluster second = await OneSiloCluster.Start<Configurator>();
        try
        {
            IRetrainCoordinatorGrain coordinator = second.Client.GetGrain<IRetrainCoordinatorGrain>("dir");
            RetrainJob job = await Retrain.Until(coordinator, id, j => !j.IsActive, "an end");
            Assert.Equal(RetrainJobState.Registered, job.State);
            Assert.Equal(2, job.Attempt);
            Assert.Equal(BarsPerAsset * Assets.Length, job.Progress.BarsRead);
            ModelDetails details = await second.Client.GetGrain<IModelRegistryGrain>(0).GetModel("dir");
            ModelVersionDetails version = Assert.Single(details.Versions, v => v.Tags.GetValueOrDefault(RetrainJobGrain.JobTag) == id);
            Assert.Equal(job.Version, version.Info.Model.Version);
            Assert.Equal(2, details.Versions.Count);
            Assert.Equal([job.Version!], details.Deployment.Shadows);
            Assert.Equal(RetrainJobState.Registered, (await new PostgresRetrainJobStore(_database).Get(id))!.State);
            Assert.Equal(id, (await coordinator.List(5)).Single().Id);
        }
        finally
        {
            await OneSiloCluster.Stop(second);
        }
    }
}
