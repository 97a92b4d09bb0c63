using System.Diagnostics.Metrics;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Grains;
using MarketIntel.Inference;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// The prediction log on real PostgreSQL: every prediction an asset grain makes on a replayed series is in the log with
/// the versions that made it and their values (the served value is what Predict answered for that bar, each shadow's
/// what its model gives on the bar's features); a log that cannot write, or that is full, never fails or holds up
/// ingestion and counts what it drops; old rows are deleted.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class PredictionLogTests(PostgresFixture postgres)
{
    private static readonly BarSeries Msft = BarCsv.Read(RepoPaths.Data("msft-daily.csv"));

    // The silo runs in this process: its configurator reaches these through static fields.
    private static string _connection = "";
    private static readonly InMemoryModelStore Models = new();

    private static readonly ModelRef Served = new("logged", "v1");
    private static readonly ModelRef Shadow = new("logged", "v2");
    private static readonly string[] ServedFeatures = ["sma_2", "rsi_3"];
    private static readonly string[] ShadowFeatures = ["ema_3"];

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMarketIntelPostgres(o => o.Configure(p => p.ConnectionString = _connection));
            siloBuilder.Services.AddSingleton<IModelStore>(Models);  // the registry's versions, in place of its tables
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5", inMemoryStorage: false);
        }
    }

    private sealed class LogOffConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMarketIntelPostgres(o => o.Configure(p => (p.ConnectionString, p.PredictionLog) = (_connection, false)));
            siloBuilder.Services.AddSingleton<IModelStore>(Models);
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5", inMemoryStorage: false);
        }
    }

    // A log that takes at most two calls' predictions (10 bars each) while they wait to be written.
    private sealed class SmallQueueConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMarketIntelPostgres(o => o.Configure(p => (p.ConnectionString, p.ArchiveBatchRows, p.PredictionLogMaxQueuedRows) = (_connection, 10, 20)));
            siloBuilder.Services.AddSingleton<IModelStore>(Models);
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5", inMemoryStorage: false);
        }
    }

    private static byte[] Stumps(string[] features, out Model model)
    {
        float[] thresholds = [.. FeatureSet.Parse(string.Join(',', features)).Compute(Msft).Select(c => (float)c.Skip(5).Take(40).Order().ElementAt(20))];
        return HandModels.Stumps(features, thresholds, [.. features.Select((_, i) => (-0.3f - 0.1f * i, 0.4f + 0.05f * i))], out model);
    }

    private static async Task Register(ModelRef reference, string[] features)
    {
        byte[] bytes = Stumps(features, out Model loaded);
        using (loaded)
        {
            await OneSiloCluster.AddLabelled(Models, reference, bytes, loaded, "up_2");
        }
    }

    // The model's prediction after each bar, from the batch features of the series.
    private static float[] Direct(string[] features, int bars)
    {
        Stumps(features, out Model model);
        using (model)
        {
            double[][] columns = FeatureSet.Parse(string.Join(',', features)).Compute(Msft);
            var output = new float[1];
            return [.. Enumerable.Range(0, bars).Select(t =>
            {
                model.Predict(columns.Select(c => (float)c[t]).ToArray(), output);
                return output[0];
            })];
        }
    }

    private static async Task<List<LoggedPrediction>> Logged(string asset)
    {
        using var database = NpgsqlDataSource.Create(_connection);
        var rows = new List<LoggedPrediction>();
        await foreach (LoggedPrediction row in PostgresPredictionLog.Read(database, asset))
        {
            rows.Add(row);
        }
        return rows;
    }

    [Fact]
    public async Task Every_prediction_on_a_replayed_series_is_logged_with_its_versions_and_values_and_a_failing_log_fails_no_ingestion()
    {
        await NewDatabase();
        await Register(Served, ServedFeatures);
        await Register(Shadow, ShadowFeatures);
        const int Batched = 40, OneByOne = 15;
        BarData[] bars = SeriesBars.Of(Msft, 0, Batched + OneByOne + 5);
        var answered = new Dictionary<long, float>();
        long dropped;

        TestCluster cluster = await OneSiloCluster.Start<Configurator>();
        try
        {
            await cluster.Client.GetGrain<IModelRegistryGrain>(0).SetShadow(Shadow, true, "test");
            var asset = cluster.Client.GetGrain<IAssetGrain>("MSFT");
            await asset.AssignModel(Served);
            await asset.AddBars(bars[..7]);  // calls of any size are logged alike
            await asset.AddBars(bars[7..Batched]);
            foreach (BarData bar in bars[Batched..(Batched + OneByOne)])
            {
                await asset.AddBars([bar]);
                PredictionResult prediction = await asset.Predict();
                Assert.Equal(Served, prediction.Model);
                answered[bar.Timestamp] = prediction.Values[0];
            }

            // The table gone, the next bars are still accepted and applied; their predictions are dropped and counted.
            var log = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services.GetRequiredService<PostgresPredictionLog>();
            var written = DateTime.UtcNow.AddSeconds(60);
            while (log.Rows < Batched + OneByOne && DateTime.UtcNow < written)
            {
                await Task.Delay(50);
            }
            await Execute("ALTER TABLE prediction_log RENAME TO prediction_log_away");
            IngestResult result = await asset.AddBars(bars[(Batched + OneByOne)..]);
            Assert.Equal(5, result.Accepted);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (log.DroppedRows < 5 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            dropped = log.DroppedRows;
            await Execute("ALTER TABLE prediction_log_away RENAME TO prediction_log");
        }
        finally
        {
            await OneSiloCluster.Stop(cluster);
        }
        Assert.Equal(5, dropped);

        List<LoggedPrediction> rows = await Logged("MSFT");
        int logged = Batched + OneByOne;
        Assert.Equal(bars[..logged].Select(b => b.Timestamp), rows.Select(r => r.Timestamp));
        float[] served = Direct(ServedFeatures, logged), shadow = Direct(ShadowFeatures, logged);
        for (int t = 0; t < logged; t++)
        {
            LoggedPrediction row = rows[t];
            Assert.Equal(("logged", "v1"), (row.Name, row.ServedVersion));
            Assert.Equal(new[] { "v2" }, row.ShadowVersions);
            // Streaming and batch features agree to rounding; the model sees floats of both.
            Assert.Equal(served[t], row.ServedValue!.Value, 1e-6f);
            Assert.Equal(shadow[t], row.ShadowValues[0]!.Value, 1e-6f);
        }
        Assert.True(served.Distinct().Count() > 1 && shadow.Distinct().Count() > 1, "the series gives the models different calls to log");
        foreach (var (timestamp, value) in answered)
        {
            Assert.Equal(value, rows.Single(r => r.Timestamp == timestamp).ServedValue);  // what the client got, to the bit
        }
    }

    [Fact]
    public async Task With_the_log_turned_off_bars_are_ingested_and_nothing_is_logged()
    {
        await NewDatabase();
        await Register(Served, ServedFeatures);
        TestCluster cluster = await OneSiloCluster.Start<LogOffConfigurator>();
        try
        {
            Assert.False(((InProcessSiloHandle)cluster.Primary!).SiloHost.Services.GetRequiredService<IPredictionLog>().IsEnabled);
            var asset = cluster.Client.GetGrain<IAssetGrain>("MSFT");
            await asset.AssignModel(Served);
            Assert.Equal(20, (await asset.AddBars(SeriesBars.Of(Msft, 0, 20))).Accepted);
            Assert.Equal(Served, (await asset.Predict()).Model);
        }
        finally
        {
            await OneSiloCluster.Stop(cluster);
        }
        Assert.Empty(await Logged("MSFT"));
    }

    [Fact]
    public async Task A_full_log_drops_and_counts_whole_calls_without_holding_up_or_failing_their_bars()
    {
        await NewDatabase();
        await Register(Served, ServedFeatures);
        BarData[] bars = SeriesBars.Of(Msft, 0, 50);
        TestCluster cluster = await OneSiloCluster.Start<SmallQueueConfigurator>();
        try
        {
            var asset = cluster.Client.GetGrain<IAssetGrain>("MSFT");
            await asset.AssignModel(Served);
            var log = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services.GetRequiredService<PostgresPredictionLog>();

            // The table locked, the first call's write waits on it: it and the next call fill the queue's 20 rows, and
            // the three calls after them are dropped whole, while every bar is accepted.
            using var database = NpgsqlDataSource.Create(_connection);
            await using (NpgsqlConnection locker = await database.OpenConnectionAsync())
            {
                await using NpgsqlTransaction transaction = await locker.BeginTransactionAsync();
                await using (var lockTable = new NpgsqlCommand("LOCK TABLE prediction_log IN ACCESS EXCLUSIVE MODE", locker, transaction))
                {
                    await lockTable.ExecuteNonQueryAsync();
                }
                for (int call = 0; call < 5; call++)
                {
                    Assert.Equal(10, (await asset.AddBars(bars[(call * 10)..((call + 1) * 10)])).Accepted);
                }
                Assert.Equal((0L, 30L), (log.Rows, log.DroppedRows));
                Assert.Equal(bars[^1].Timestamp, (await asset.GetFeatures()).AsOf);  // every bar applied
                await transaction.RollbackAsync();
            }

            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (log.Rows < 20 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.Equal((20L, 30L), (log.Rows, log.DroppedRows));
        }
        finally
        {
            await OneSiloCluster.Stop(cluster);
        }
        Assert.Equal(bars[..20].Select(b => b.Timestamp), (await Logged("MSFT")).Select(r => r.Timestamp));
    }

    // A migrated database of its own for the test's silo (it reaches it through _connection).
    private async Task NewDatabase()
    {
        _connection = postgres.NewDatabase();
        using var database = NpgsqlDataSource.Create(_connection);
        await Migrations.Migrator.MigrateAsync(database);
    }

    private static async Task Execute(string sql)
    {
        using var database = NpgsqlDataSource.Create(_connection);
        await using var command = database.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Rows_past_the_retention_are_deleted_and_a_missing_prediction_reads_back_as_null()
    {
        await NewDatabase();
        using var database = NpgsqlDataSource.Create(_connection);
        await using var host = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory meters = host.GetRequiredService<IMeterFactory>();
        await using var log = new PostgresPredictionLog(database, enabled: true, batchRows: 100, maxQueuedRows: 1000, TimeSpan.FromDays(30), TimeSpan.FromDays(1), meters);
        string[] versions = ["v1", "v2", "v3"];
        Assert.True(log.Append(new PredictionBatch("OLD", "m", versions, [1_000, 2_000, 3_000], [0.1f, 0.2f, 0.3f, 0.4f, float.NaN, 0.6f, 0.7f, 0.8f, 0.9f], 3)));
        Assert.True(log.Append(new PredictionBatch("NEW", "m", versions, [1_000, 2_000, 9_999], [0.5f, 0.5f, 0.5f, 0.25f, 0.5f, 0.75f, 0f, 0f, 0f], 2)));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (log.Rows < 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal(5, log.Rows);  // only the first Count bars of a batch

        LoggedPrediction second = (await Logged("OLD"))[1];
        Assert.Equal((2_000L, 0.4f), (second.Timestamp, second.ServedValue!.Value));
        Assert.Equal(new float?[] { null, 0.6f }, second.ShadowValues);
        Assert.Equal(new[] { "v2", "v3" }, second.ShadowVersions);

        await using (var age = database.CreateCommand("UPDATE prediction_log SET logged_at = now() - interval '30 days 1 minute' WHERE asset = 'OLD'"))
        {
            await age.ExecuteNonQueryAsync();
        }
        Assert.Equal(3, await log.DeleteExpired());
        Assert.Empty(await Logged("OLD"));
        Assert.Equal([1_000L, 2_000], (await Logged("NEW")).Select(r => r.Timestamp));
        Assert.Equal(0, await log.DeleteExpired());

        // What the log did, on its meter.
        var observed = new Dictionary<string, long>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Meter.Name == PostgresPredictionLog.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => observed[instrument.Name] = value);
            listener.Start();
            listener.RecordObservableInstruments();
        }
        Assert.Equal(5, observed["marketintel_prediction_log_rows_total"]);
        Assert.Equal(3, observed["marketintel_prediction_log_deleted_rows_total"]);
        Assert.Equal(0, observed["marketintel_prediction_log_dropped_rows_total"]);
        Assert.Equal(0, observed["marketintel_prediction_log_queued_rows"]);
        Assert.InRange(observed["marketintel_prediction_log_writes_total"], 1, 2);
    }
}
