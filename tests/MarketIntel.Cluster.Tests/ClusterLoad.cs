using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using Npgsql;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// The load the cluster tests put on real silos, and what they check afterwards: a random walk of one-minute bars per
/// asset, ingested in small calls that are resent to another silo when one fails, then the archive and each asset's
/// features compared with what an uninterrupted run computes.
/// </summary>
internal static class ClusterLoad
{
    public const int BarsPerAsset = 1500;
    private const int Chunk = 50;

    // A random walk per asset, different for each, with valid OHLCV bars one minute apart.
    public static BarSeries Walk(int asset)
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

    public static string Symbol(int asset) => $"A{asset:00}";

    /// <summary>One IngestBars message of asset <paramref name="asset"/>'s bars <paramref name="from"/> to <paramref name="to"/> (exclusive) of its walk.</summary>
    public static IngestBarsRequest Request(int asset, BarSeries walk, int from, int to)
    {
        var request = new IngestBarsRequest { Asset = Symbol(asset) };
        for (int i = from; i < to; i++)
        {
            request.Bars.Add(new Api.V1.Bar
            {
                Timestamp = long.Parse(walk.Timestamps[i], System.Globalization.CultureInfo.InvariantCulture),
                Open = walk.Open[i], High = walk.High[i], Low = walk.Low[i], Close = walk.Close[i], Volume = walk.Volume[i],
            });
        }
        return request;
    }

    /// <summary>
    /// Writes a bar CSV of <paramref name="count"/> one-minute bars from 2020-01-01 (ISO timestamps, as `marketintel
    /// ingest` reads them), bar i closing at <paramref name="close"/>(i, previous close) from 100, opening at the
    /// previous close, with a high and low 0.05% beyond.
    /// </summary>
    public static string WriteBarFile(string path, int count, Func<int, double, double> close)
    {
        var text = new System.Text.StringBuilder("timestamp,open,high,low,close,volume\n", count * 64);
        var time = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        double last = 100;
        for (int i = 0; i < count; i++)
        {
            double open = last;
            last = close(i, last);
            double high = Math.Max(open, last) * 1.0005, low = Math.Min(open, last) * 0.9995;
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{time.AddMinutes(i):yyyy-MM-ddTHH:mm:ssZ},{open:R},{high:R},{low:R},{last:R},1000\n");
        }
        File.WriteAllText(path, text.ToString());
        return path;
    }

    // One client per asset sends its bars in calls of Chunk bars; a call that fails is sent again, to the next silo
    // in the list that is still running, until it is acknowledged. Returns how many calls had to be resent.
    public static Task<int> Ingest(IReadOnlyList<SiloProcess> silos, BarSeries[] walks, Action<long> acknowledged) =>
        Ingest((asset, failures) =>
        {
            int target = (asset + failures) % silos.Count;
            while (silos[target].HasExited)
            {
                target = (target + 1) % silos.Count;
            }
            return silos[target];
        }, walks, acknowledged, TimeSpan.Zero);

    /// <summary>
    /// One client per asset sends its bars in calls of Chunk bars, one call every <paramref name="pace"/>, each to the
    /// silo <paramref name="pick"/> names for (asset, failures so far); a call that fails is sent again until it is
    /// acknowledged. Returns how many calls had to be resent.
    /// </summary>
    public static async Task<int> Ingest(Func<int, int, SiloProcess> pick, BarSeries[] walks, Action<long> acknowledged, TimeSpan pace)
    {
        int resent = 0;
        await Task.WhenAll(Enumerable.Range(0, walks.Length).Select(async a =>
        {
            int failures = 0;
            for (int start = 0; start < BarsPerAsset;)
            {
                IngestBarsRequest request = Request(a, walks[a], start, Math.Min(BarsPerAsset, start + Chunk));
                try
                {
                    IngestBarsReply reply = await pick(a, failures).Ingest(request);
                    Assert.Equal(0, reply.Rejected);
                    Assert.Equal(request.Bars.Count, reply.Accepted + reply.Ignored);
                    Assert.Equal("durable", reply.Holder);  // every silo holds the archived bars: a client may resume on any
                    acknowledged(request.Bars.Count);
                    start += Chunk;
                    if (pace > TimeSpan.Zero)
                    {
                        await Task.Delay(pace);
                    }
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.DeadlineExceeded or StatusCode.Cancelled)
                {
                    Interlocked.Increment(ref resent);
                    failures++;
                    await Task.Delay(200);
                }
            }
        }));
        return resent;
    }

    // What an uninterrupted run computes: the batch form over every bar, last row.
    public static Dictionary<string, double> Expected(BarSeries walk, IEnumerable<string> names)
    {
        var set = FeatureSet.Parse(string.Join(',', names));
        var columns = set.Compute(walk);
        return set.Names.Select((n, i) => (n, v: columns[i][^1])).ToDictionary(p => p.n, p => p.v);
    }

    public static async Task<Api.V1.Features> FeaturesOf(SiloProcess silo, string asset)
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

    public static async Task AssertFeaturesEqualCleanReplay(SiloProcess silo, BarSeries[] walks, string when)
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

    /// <summary>Asserts that PostgreSQL holds every bar of every walk exactly once (the primary key forbids twice; none is missing).</summary>
    public static async Task AssertArchived(string database, BarSeries[] walks)
    {
        await using var data = NpgsqlDataSource.Create(database);
        for (int a = 0; a < walks.Length; a++)
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
}
