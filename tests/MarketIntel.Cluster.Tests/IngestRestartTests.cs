using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Server.Tests;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// `marketintel ingest` never reports bars the server does not hold: a server on embedded defaults SIGKILLed mid-ingest
/// and started again on the same ports holds nothing, and the client must notice rather than resume from its own count.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed partial class IngestRestartTests : IDisposable
{
    private const int Bars = 1_000_000;  // the issue's scenario: enough that the server is killed well before the end on a quiet machine too
    private readonly string _dir = Directory.CreateTempSubdirectory("mi-restart-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [GeneratedRegex(@"accepted (\d+), ignored (\d+), rejected (\d+)")]
    private static partial Regex Counts();

    [Fact]
    public async Task An_ingest_into_a_server_that_restarts_without_its_bars_resends_them_and_reports_what_the_server_holds()
    {
        var random = new Random(23);
        string file = ClusterLoad.WriteBarFile(Path.Combine(_dir, "bars.csv"), Bars, (_, close) => Math.Max(1, close * Math.Exp(random.NextDouble() * 0.002 - 0.001)));
        long lastBar = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(Bars - 1).ToUnixTimeMilliseconds();
        var first = SiloProcess.StartEmbedded("first");
        SiloProcess? second = null;
        try
        {
            await first.WaitReady(TimeSpan.FromSeconds(60));
            var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "marketintel.dll"), "ingest",
                "--target", $"grpc://127.0.0.1:{first.GrpcPort}", "--asset", "RESTART", "--file", file, "--chunk", "2000", "--retries", "30"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var ingest = Process.Start(info)!;
            var stdout = ingest.StandardOutput.ReadToEndAsync();
            var stderr = ingest.StandardError.ReadToEndAsync();

            // Killed once it holds a good part of the file, but well before the end.
            long held = await WaitUntilHolding(first, minimum: 20_000, ingest);
            Assert.True(held < Bars, $"the first server already held all {Bars} bars before it could be killed");
            first.Kill();
            second = SiloProcess.StartEmbedded("second", first.Ports);
            await second.WaitReady(TimeSpan.FromSeconds(60));

            Assert.True(ingest.WaitForExit(TimeSpan.FromMinutes(4)), "the ingest did not finish");
            string output = await stdout, errors = await stderr;
            Assert.True(ingest.ExitCode == 0, $"exit {ingest.ExitCode}: {errors}{output}");
            Assert.Contains("the server restarted without keeping the", errors, StringComparison.Ordinal);
            Assert.Contains("server restart(s) that lost acknowledged bars: resent", output, StringComparison.Ordinal);

            // What the client reports is what the restarted server holds: every bar, once.
            Match counts = Counts().Match(output);
            Assert.True(counts.Success, output);
            Assert.Equal(Bars.ToString(CultureInfo.InvariantCulture), counts.Groups[1].Value);
            Assert.Equal("0", counts.Groups[3].Value);
            Api.V1.Features features = await second.Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "RESTART" });
            Assert.Equal(lastBar, features.AsOf);
            using var http = new HttpClient();
            var metrics = await Scrape.From(http, $"http://127.0.0.1:{second.HttpPort}/metrics");
            Assert.Equal(Bars, metrics.Value("marketintel_bars_accepted_total"));
        }
        finally
        {
            first.Dispose();
            second?.Dispose();
        }
    }

    // Polls the asset's last accepted bar on the server; returns how many bars it holds (timestamps are one a minute).
    private static async Task<long> WaitUntilHolding(SiloProcess silo, long minimum, Process ingest)
    {
        long start = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            Assert.False(ingest.HasExited, "the ingest ended before the server could be killed");
            try
            {
                Api.V1.Features features = await silo.Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "RESTART" });
                long held = (features.AsOf - start) / 60_000 + 1;
                if (held >= minimum)
                {
                    return held;
                }
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"the server did not hold {minimum} bars within 2 minutes");
    }
}
