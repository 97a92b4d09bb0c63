using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Tests;
using Npgsql;
using Xunit.Abstractions;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// The durability promise with real servers and real silo processes: three silos on loopback sharing one Redis
/// and one PostgreSQL, bars for many assets streamed through gRPC IngestBars, one silo SIGKILLed mid-stream.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ClusterDurabilityTests(ITestOutputHelper output) : IDisposable
{
    private const int Assets = 24;
    private const int BarsPerAsset = 1500;
    private const int Chunk = 50;

    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _silos = [];

    private async Task<SiloProcess[]> StartSilos(string database, params string[] names)
    {
        var started = names.Select(n => SiloProcess.Start(n, _servers.Redis.Endpoint, database, "--model", SiloProcess.DemoModel)).ToArray();
        _silos.AddRange(started);
        await Task.WhenAll(started.Select(s => s.WaitReady(TimeSpan.FromSeconds(90))));
        return started;
    }

    // A random walk per asset, different for each, with valid OHLCV bars one minute apart.
    private static BarSeries Walk(int asset)
    {
        var random = new Random(1000 + asset);
        var ts = new string[BarsPerAsset];
        double[] open = new double[BarsPerAsset], high = new double[BarsPerAsset], low = new double[BarsPerAsset], close = new double[BarsPerAsset], volume = new double[BarsPerAsset];
        double price = 50 + asset;
        for (int i = 0; i < BarsPerAsset; i++)
        {
            ts[i] = (1_600_000_000_000L + i * 60_000L).ToString(System.Globalization.CultureInfo.InvariantCulture);
            open[i] = price;
            price *= Math.Exp(0.01 * (random.NextDouble() - 0.5));
            close[i] = price;
            high[i] = Math.Max(open[i], close[i]) * (1 + 0.002 * random.NextDouble());
            low[i] = Math.Min(open[i], close[i]) * (1 - 0.002 * random.NextDouble());
            volume[i] = 1000 + random.Next(5000);
        }
        return new BarSeries(ts, open, high, low, close, volume);
    }

    private static string Symbol(int asset) => $"A{asset:00}";

    // One client per asset sends its bars in calls of Chunk bars; a call that fails is sent again, to the next silo
    // in the list that is still running, until it is acknowledged. Returns how many calls had to be resent.
    private static async Task<int> Ingest(IReadOnlyList<SiloProcess> silos, BarSeries[] walks, Action<long> acknowledged)
    {
        int resent = 0;
        await Task.WhenAll(Enumerable.Range(0, walks.Length).Select(async a =>
        {
            int target = a % silos.Count;
            for (int start = 0; start < BarsPerAsset;)
            {
                var request = new IngestBarsRequest { Asset = Symbol(a) };
                for (int i = start; i < Math.Min(BarsPerAsset, start + Chunk); i++)
                {
                    request.Bars.Add(new Api.V1.Bar
                    {
                        Timestamp = long.Parse(walks[a].Timestamps[i], System.Globalization.CultureInfo.InvariantCulture),
                        Open = walks[a].Open[i], High = walks[a].High[i], Low = walks[a].Low[i], Close = walks[a].Close[i], Volume = walks[a].Volume[i],
                    });
                }
                try
                {
                    IngestBarsReply reply = await silos[target].Ingest(request);
                    Assert.Equal(0, reply.Rejected);
                    Assert.Equal(request.Bars.Count, reply.Accepted + reply.Ignored);
                    Assert.Equal("durable", reply.Holder);  // every silo holds the archived bars: a client may resume on any
                    acknowledged(request.Bars.Count);
                    start += Chunk;
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.DeadlineExceeded or StatusCode.Cancelled)
                {
                    Interlocked.Increment(ref resent);
                    do
                    {
                        target = (target + 1) % silos.Count;
                    }
                    while (silos[target].HasExited);
                    await Task.Delay(200);
                }
            }
        }));
        return resent;
    }

    // What an uninterrupted run computes: the batch form over every bar, last row.
    private static Dictionary<string, double> Expected(BarSeries walk, IEnumerable<string> names)
    {
        var set = FeatureSet.Parse(string.Join(',', names));
        var columns = set.Compute(walk);
        return set.Names.Select((n, i) => (n, v: columns[i][^1])).ToDictionary(p => p.n, p => p.v);
    }

    private static async Task<Api.V1.Features> FeaturesOf(SiloProcess silo, string asset)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await silo.Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = asset }, deadline: DateTime.UtcNow.AddSeconds(30));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && attempt < 30)
            {
                await Task.Delay(500);
            }
        }
    }

    private static async Task AssertFeaturesEqualCleanReplay(SiloProcess silo, BarSeries[] walks, string when)
    {
        for (int a = 0; a < walks.Length; a++)
        {
            Api.V1.Features features = await FeaturesOf(silo, Symbol(a));
            Assert.Equal(long.Parse(walks[a].Timestamps[^1], System.Globalization.CultureInfo.InvariantCulture), features.AsOf);
            Assert.Contains("lag_1_rsi_14", features.Names);  // added by the default model, and kept across activations
            var expected = Expected(walks[a], features.Names);
            for (int f = 0; f < features.Names.Count; f++)
            {
                double want = expected[features.Names[f]], got = features.Values[f];
                Assert.True(want.Equals(got), $"{when}: {Symbol(a)} {features.Names[f]}: {got} from the grid, {want} from a clean replay");
            }
        }
    }

    [Fact]
    public async Task A_silo_killed_mid_ingest_loses_no_acknowledged_bar_and_a_full_restart_brings_every_asset_back()
    {
        string database = _servers.MigratedDatabase("grid");
        var silos = await StartSilos(database, "silo1", "silo2", "silo3");
        var walks = Enumerable.Range(0, Assets).Select(Walk).ToArray();
        long acknowledged = 0;
        var killed = new TaskCompletionSource();
        var clock = Stopwatch.StartNew();
        var ingest = Ingest(silos, walks, n =>
        {
            if (Interlocked.Add(ref acknowledged, n) >= Assets * BarsPerAsset / 3)
            {
                killed.TrySetResult();
            }
        });
        await Task.WhenAny(killed.Task, ingest);
        Assert.True(killed.Task.IsCompleted, "the ingest finished before a third of it was acknowledged");
        silos[1].Kill();
        output.WriteLine($"killed silo2 after {Interlocked.Read(ref acknowledged)} acknowledged bars, {clock.Elapsed.TotalSeconds:0.0} s in");
        int resent = await ingest.WaitAsync(TimeSpan.FromMinutes(4));
        output.WriteLine($"ingest done in {clock.Elapsed.TotalSeconds:0.0} s, {resent} calls resent");
        Assert.Equal((long)Assets * BarsPerAsset, acknowledged);
        Assert.True(resent > 0, "no call failed: the kill did not hit the ingest");

        // Every acknowledged bar is in PostgreSQL exactly once (the primary key forbids twice; none is missing).
        await using (var data = NpgsqlDataSource.Create(database))
        {
            for (int a = 0; a < Assets; a++)
            {
                await using var command = data.CreateCommand("SELECT ts, close FROM bars WHERE asset = $1 ORDER BY ts");
                command.Parameters.AddWithValue(Symbol(a));
                var stored = new List<(long, double)>();
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    stored.Add((reader.GetInt64(0), reader.GetDouble(1)));
                }
                var sent = walks[a].Timestamps.Select((t, i) => (long.Parse(t, System.Globalization.CultureInfo.InvariantCulture), walks[a].Close[i])).ToList();
                Assert.Equal(sent, stored);
            }
        }

        // The assets that lived on the killed silo were reactivated elsewhere from the archive.
        await AssertFeaturesEqualCleanReplay(silos[0], walks, "after the kill");

        // What the archive cannot rebuild is grain state: a model registered through the API, an assignment and a
        // pushed vector (the model reads 10 pushed features, not computed ones).
        var client = silos[2].Client;
        await client.RegisterModelAsync(new RegisterModelRequest
        {
            Name = "pushed", Version = "v1",
            Model = Google.Protobuf.ByteString.CopyFrom(File.ReadAllBytes(Path.Combine(RepoPaths.Root, "tests", "fixtures", "models", "xgb-cls-d4-n80.json"))),
        });
        await client.AssignModelAsync(new AssignModelRequest { Assets = { "P1" }, Name = "pushed", Version = "v1" });
        await client.PushFeaturesAsync(new PushFeaturesRequest { Asset = "P1", Values = { 0.1f, -1f, 2f, 0.5f, 3f, -0.2f, 0f, 1.5f, -3f, 0.7f } });
        Prediction before = await client.PredictAsync(new PredictRequest { Asset = "P1" });
        Assert.Equal("pushed", before.Model);

        // Whole-cluster restart: every asset comes back with the same features, the pushed asset with its model and vector.
        silos[0].Stop(TimeSpan.FromSeconds(30));
        silos[2].Stop(TimeSpan.FromSeconds(30));
        var restarted = await StartSilos(database, "silo4", "silo5");
        await AssertFeaturesEqualCleanReplay(restarted[1], walks, "after the restart");
        Prediction after = await restarted[0].Client.PredictAsync(new PredictRequest { Asset = "P1" });
        Assert.Equal((before.Model, before.Version, before.Value, before.AsOf), (after.Model, after.Version, after.Value, after.AsOf));
    }

    public void Dispose()
    {
        foreach (var silo in _silos)
        {
            silo.Dispose();
        }
        _servers.Dispose();
    }
}
