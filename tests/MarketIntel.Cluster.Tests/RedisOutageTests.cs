using System.Diagnostics;
using System.Net;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Server.Tests;
using MarketIntel.Tests;
using Npgsql;
using StackExchange.Redis;

namespace MarketIntel.Cluster.Tests;

/// <summary>Redis holds membership and a cache, nothing the grid needs to answer: losing it loses no data.</summary>
[Collection(ClusterGroup.Name)]
public sealed class RedisOutageTests : IDisposable
{
    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _silos = [];

    private static IngestBarsRequest Bars(string asset, int from, int count)
    {
        var request = new IngestBarsRequest { Asset = asset };
        for (int i = from; i < from + count; i++)
        {
            double price = 100 + 5 * Math.Sin(i / 7.0) + i * 0.01;
            request.Bars.Add(new Api.V1.Bar { Timestamp = 1_700_000_000_000L + i * 60_000L, Open = price, High = price + 1, Low = price - 1, Close = price + 0.5, Volume = 1000 + i });
        }
        return request;
    }

    private static async Task<HashEntry[]> Cached(IDatabase redis, string asset, Func<HashEntry[], bool> until)
    {
        var clock = Stopwatch.StartNew();
        HashEntry[] entry = [];
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            try
            {
                entry = await redis.HashGetAllAsync($"marketintel:asset:{asset}");
                if (until(entry))
                {
                    return entry;
                }
            }
            catch (RedisException)
            {
            }
            await Task.Delay(100);
        }
        return entry;
    }

    private static string? Field(HashEntry[] entry, string name) => entry.FirstOrDefault(e => e.Name == name).Value;

    [Fact]
    public async Task With_Redis_down_the_grid_keeps_ingesting_and_predicting_and_the_cache_catches_up_when_it_returns()
    {
        string database = _servers.MigratedDatabase("grid");
        var silos = new[] { SiloProcess.Start("a", _servers.Redis.Endpoint, database, "--model", SiloProcess.DemoModel), SiloProcess.Start("b", _servers.Redis.Endpoint, database, "--model", SiloProcess.DemoModel) };
        _silos.AddRange(silos);
        await Task.WhenAll(silos.Select(s => s.WaitReady(TimeSpan.FromSeconds(90))));
        using var http = new HttpClient();

        // The cache: an entry per asset that a non-.NET client reads with HGETALL.
        Assert.Equal(200, (await silos[0].Ingest(Bars("RX", 0, 200))).Accepted);
        using var redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { _servers.Redis.Endpoint }, AbortOnConnectFail = false });
        var cached = await Cached(redis.GetDatabase(), "RX", e => Field(e, "features_as_of") == $"{1_700_000_000_000L + 199 * 60_000L}");
        Assert.Equal($"{1_700_000_000_000L + 199 * 60_000L}", Field(cached, "features_as_of"));
        Assert.Equal("direction-d3-n60", Field(cached, "model"));
        Assert.Contains("\"rsi_14\":", Field(cached, "features"), StringComparison.Ordinal);
        Assert.True(float.TryParse(Field(cached, "prediction"), System.Globalization.CultureInfo.InvariantCulture, out _));

        _servers.Redis.Kill();
        // Ingest is acknowledged (PostgreSQL has the bars) and predictions are served on both silos.
        var clock = Stopwatch.StartNew();
        for (int round = 0; clock.Elapsed < TimeSpan.FromSeconds(8); round++)
        {
            Assert.Equal(10, (await silos[round % 2].Ingest(Bars("RX", 200 + 10 * round, 10))).Accepted);
            foreach (var silo in silos)
            {
                var response = await http.GetAsync($"http://127.0.0.1:{silo.HttpPort}/predict/RX");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var prediction = await silo.Client.PredictAsync(new PredictRequest { Asset = "RX" });
                Assert.Equal(1_700_000_000_000L + (200 + 10 * round + 9) * 60_000L, prediction.AsOf);
            }
            await Task.Delay(200);
        }
        var last = await silos[0].Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "RX" });

        // Back: what changed while it was down is written without any new bar.
        _servers.Redis.Resume();
        cached = await Cached(redis.GetDatabase(), "RX", e => Field(e, "features_as_of") == $"{last.AsOf}");
        Assert.Equal($"{last.AsOf}", Field(cached, "features_as_of"));
        foreach (var silo in silos)
        {
            Assert.False(silo.HasExited, silo.Output);
        }

        // The silos' metrics tell the same story: failed flushes while Redis was down, the entries written, and
        // the archive's commits with the bars they carried.
        var scrapes = await Task.WhenAll(silos.Select(s => Scrape.From(http, $"http://127.0.0.1:{s.HttpPort}/metrics")));
        double Total(string name) => scrapes.Sum(s => s.Value(name));
        Assert.True(Total("marketintel_cache_write_failures_total") >= 1, scrapes[0].Text);
        Assert.True(Total("marketintel_cache_writes_total") >= 2);
        Assert.Equal("gauge", scrapes[0].Type("marketintel_cache_pending_assets"));
        Assert.True(Total("marketintel_archive_writes_total") >= 1);
        Assert.True(Total("marketintel_archive_rows_total") >= Math.Max(200, Total("marketintel_archive_writes_total")));
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
