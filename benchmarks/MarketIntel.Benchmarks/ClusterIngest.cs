using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.Benchmarks;

/// <summary>
/// Drives a running cluster for benchmarks/cluster/run.sh. Ingest mode: <c>--connections</c> clients stream the
/// bars of <c>--assets</c> random-walk assets through IngestBars, each call carrying <c>--chunk</c> bars and waiting
/// for its acknowledgement (which, in cluster mode, waits for PostgreSQL); asset i goes to target i mod n. Prints
/// acknowledged bars per second and the latency of an acknowledgement. Probe mode (<c>--probe</c>): asks every asset
/// for its features through the first target, retrying while a silo's grains are being placed elsewhere, and
/// prints how long until every asset answered.
/// </summary>
internal static class ClusterIngest
{
    public static async Task<int> Run(string[] args)
    {
        var options = CliArguments.Parse(args.AsSpan(1), ["targets", "assets", "bars", "chunk", "connections"], ["probe"]);
        string[] targets = (options.Optional("targets") ?? "grpc://127.0.0.1:5081").Split(',');
        int assets = options.OptionalInt("assets", 1, 10_000_000) ?? 200;
        int bars = options.OptionalInt("bars", 1, 10_000_000) ?? 2000;
        int chunk = options.OptionalInt("chunk", 1, 1_000_000) ?? 100;
        int connections = options.OptionalInt("connections", 1, 10_000) ?? 32;
        var channels = targets.Select(t => GridChannel.Create(t)).ToArray();
        var clients = channels.Select(c => new Grid.GridClient(c)).ToArray();
        return options.Flag("probe") ? await Probe(clients[0], assets) : await Ingest(clients, assets, bars, chunk, connections);
    }

    private static async Task<int> Ingest(Grid.GridClient[] clients, int assets, int bars, int chunk, int connections)
    {
        int next = -1;
        var latencies = new List<double>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            var mine = new List<double>();
            for (int asset = Interlocked.Increment(ref next); asset < assets; asset = Interlocked.Increment(ref next))
            {
                var random = new Random(asset);
                double price = 100;
                for (int start = 0; start < bars; start += chunk)
                {
                    var request = new IngestBarsRequest { Asset = $"B{asset:0000}" };
                    for (int i = start; i < Math.Min(bars, start + chunk); i++)
                    {
                        double open = price;
                        price *= Math.Exp(0.01 * (random.NextDouble() - 0.5));
                        request.Bars.Add(new Bar
                        {
                            Timestamp = 1_600_000_000_000L + i * 60_000L,
                            Open = open, Close = price, High = Math.Max(open, price) * 1.001, Low = Math.Min(open, price) * 0.999, Volume = 1000,
                        });
                    }
                    long sent = Stopwatch.GetTimestamp();
                    using var call = clients[asset % clients.Length].IngestBars();
                    await call.RequestStream.WriteAsync(request);
                    await call.RequestStream.CompleteAsync();
                    var reply = await call;
                    if (reply.Accepted != request.Bars.Count)
                    {
                        throw new InvalidOperationException($"{request.Asset}: {reply.Accepted} of {request.Bars.Count} accepted");
                    }
                    mine.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                }
            }
            lock (latencies)
            {
                latencies.AddRange(mine);
            }
        }));
        double seconds = clock.Elapsed.TotalSeconds;
        latencies.Sort();
        long total = (long)assets * bars;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ingest: {total} bars ({assets} assets x {bars}) in calls of {chunk}, {connections} clients, {clients.Length} target(s): " +
            $"{seconds:0.00} s, {total / seconds:0} acknowledged bars/s; acknowledgement p50 {Percentile(latencies, 0.50):0.0} ms, p99 {Percentile(latencies, 0.99):0.0} ms"));
        return 0;
    }

    private static async Task<int> Probe(Grid.GridClient client, int assets)
    {
        var clock = Stopwatch.StartNew();
        int retried = 0;
        var answered = new double[assets];
        await Task.WhenAll(Enumerable.Range(0, assets).Select(async asset =>
        {
            for (bool first = true; ; first = false)
            {
                try
                {
                    await client.GetFeaturesAsync(new GetFeaturesRequest { Asset = $"B{asset:0000}" }, deadline: DateTime.UtcNow.AddSeconds(60));
                    answered[asset] = clock.Elapsed.TotalMilliseconds;
                    return;
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal)
                {
                    if (first)
                    {
                        Interlocked.Increment(ref retried);
                    }
                    await Task.Delay(50);
                }
            }
        }));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"probe: all {assets} assets answered after {answered.Max():0} ms ({retried} had to wait for their grain to be placed again)"));
        return 0;
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}
