using System.Diagnostics;
using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Io;
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
    private static readonly string[] Inputs = ["sma_5", "rsi_14", "roc_10"];
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

    private static async Task<RetrainJob> Until(IRetrainCoordinatorGrain coordinator, string id, Func<RetrainJob, bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            RetrainJob job = await coordinator.Get(id);
            if (done(job))
            {
                return job;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"job {id} did not reach '{what}': it is {job.State} ({job.Detail}), attempt {job.Attempt}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_job_running_when_its_cluster_stops_is_picked_up_by_the_next_cluster_and_registers_exactly_one_version()
    {
        s_database = _database;
        BarSeries series = BarCsv.Read(RepoPaths.Data("ttrc-daily.csv"));
        await using (var archive = new PostgresBarArchive(_database, batchRows: 5000, writers: 1))
        {
            foreach (string asset in Assets)
            {
                await archive.Append(asset, 0, [.. SeriesBars.Of(series, 0, BarsPerAsset).Select(b => new StoredBar(b.Timestamp, new Bar(b.Open, b.High, b.Low, b.Close, b.Volume)))]);
            }
        }
        byte[] bytes = HandModels.Stumps(Inputs, [20, 50, 0], [(-0.1f, 0.1f), (0.1f, -0.1f), (-0.05f, 0.05f)], out var model);
        model.Dispose();
        var lineage = new JsonObject
        {
            ["spec"] = string.Join(',', Inputs),
            ["features"] = new JsonArray([.. Inputs.Select(i => JsonValue.Create(i))]),
            ["label"] = new JsonObject { ["kind"] = "direction", ["horizon"] = 1 },
            // Enough rounds that the job is still training when the cluster stops.
            ["parameters"] = new JsonObject { ["rounds"] = 300, ["maxDepth"] = 6, ["eta"] = 0.1 },
            ["data"] = new JsonObject { ["assets"] = new JsonArray([.. Assets.Select(a => JsonValue.Create(a))]) },
        };

        TestCluster first = await OneSiloCluster.Start<Configurator>();
        string id;
        try
        {
            await first.Client.GetGrain<IModelRegistryGrain>(0).Register(new ModelRegistration("dir", "v1", bytes, lineage.ToJsonString(), null, "champion", "ana"));
            IRetrainCoordinatorGrain coordinator = first.Client.GetGrain<IRetrainCoordinatorGrain>("dir");
            RetrainStart start = await coordinator.Request(new RetrainRequest("dir", RetrainTrigger.Manual, "test", "ana"));
            Assert.True(start.Started, start.Reason);
            id = start.Job!.Id;
            await Until(coordinator, id, j => j.State == RetrainJobState.Running && j.Progress.Rows > 0, "training");
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
            RetrainJob job = await Until(coordinator, id, j => !j.IsActive, "an end");
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
