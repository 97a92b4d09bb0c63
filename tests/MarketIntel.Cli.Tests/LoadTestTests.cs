using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MarketIntel.Cli.Commands;
using MarketIntel.LoadTest;
using MarketIntel.Server.Hosting;

namespace MarketIntel.Cli.Tests;

/// <summary>Tests that compare timings run alone, after the rest of the assembly, so other tests do not load the machine meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "timing";
}

/// <summary>
/// <c>marketintel loadtest</c> against small servers whose timing is known: its figures agree with wrk's, the open
/// loop keeps its schedule and charges a stall to every request due during it, its HTTP parser reads every framing,
/// and failures are counted by kind.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class LoadTestTests : CliTestBase, IAsyncLifetime
{
    private readonly TimedHttpServer _server = new();

    public Task InitializeAsync() => _server.StartAsync();

    public Task DisposeAsync() => _server.DisposeAsync().AsTask();

    [Fact]
    public void Closed_loop_throughput_and_latency_agree_with_wrk_against_the_same_server()
    {
        // Every answer takes 2 ms on a connection's own thread, so 16 connections give a throughput set by the
        // delay, not by how fast either load generator is. wrk has no warm-up of its own: it gets a run first. Each
        // tool runs twice, alternately, and its better run counts, so one pause of the machine does not decide.
        using var server = new ScriptedHttpServer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfter: false, delayMs: 2, pieceBytes: 1 << 20);
        string url = server.Url("/delay/A1");
        Wrk(url, connections: 16, seconds: 1);
        var runs = new List<(WrkResult Wrk, JsonElement Ours)>();
        for (int i = 0; i < 2; i++)
        {
            runs.Add((Wrk(url, connections: 16, seconds: 2),
                LoadTest("--target", server.Url("/delay/{asset}"), "--connections", "16", "--duration", "2s", "--warmup", "1s")));
        }
        WrkResult wrk = runs.Select(r => r.Wrk).MaxBy(w => w.Throughput);
        JsonElement ours = runs.Select(r => r.Ours).MaxBy(o => o.GetProperty("throughput").GetDouble());

        double throughput = ours.GetProperty("throughput").GetDouble();
        double p50 = ours.GetProperty("p50_ms").GetDouble();
        double p90 = ours.GetProperty("p90_ms").GetDouble();
        Assert.All(runs, r => Assert.Equal(0, r.Ours.GetProperty("errors").GetInt64()));
        string both = $"wrk {wrk}; ours {ours}";
        Assert.True(throughput / wrk.Throughput is > 0.85 and < 1.15, both);
        Assert.True(p50 / wrk.P50Ms is > 0.8 and < 1.25, both);
        Assert.True(p90 / wrk.P90Ms is > 0.75 and < 1.33, both);
        // Little's law ties the two figures together: 16 requests in flight at all times.
        Assert.InRange(throughput * ours.GetProperty("mean_ms").GetDouble() / 1000, 14.5, 16.5);
        // And the server agrees on the count: every measured request reached it (plus warm-ups and first requests).
        Assert.True(server.Requests >= runs.Sum(r => r.Wrk.Requests + r.Ours.GetProperty("requests").GetInt64()));
    }

    [Fact]
    public void Open_loop_keeps_its_schedule()
    {
        var clock = Stopwatch.StartNew();
        JsonElement r = LoadTest("--target", _server.Url("/fast/{asset}"), "--rate", "2000", "--requests", "4000", "--warmup", "0");
        Assert.Equal(4000, r.GetProperty("requests").GetInt64());
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        // Never faster than the schedule; slower only by the time the last answers take (a pause of this shared
        // test process, once 0.4 s, counts against throughput but not against the schedule).
        Assert.InRange(r.GetProperty("throughput").GetDouble(), 1500, 2010);
        Assert.True(clock.Elapsed.TotalSeconds >= 1.95, $"4000 requests at 2000/s took {clock.Elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public void Open_loop_at_a_low_rate_waits_for_each_due_time()
    {
        // 5 requests/s: one sleep is capped at 100 ms, so each due time must be waited for in several.
        var clock = Stopwatch.StartNew();
        JsonElement r = LoadTest("--target", _server.Url("/fast/{asset}"), "--rate", "5", "--duration", "1s", "--warmup", "0", "--connections", "2");
        Assert.Equal(5, r.GetProperty("requests").GetInt64());
        Assert.InRange(r.GetProperty("throughput").GetDouble(), 3.5, 5.01);   // never above the rate; a late last answer lowers it
        Assert.True(clock.Elapsed.TotalSeconds >= 0.8, $"5 requests at 5/s took {clock.Elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public void A_kept_alive_connection_the_server_closed_while_idle_is_reopened_not_counted_as_an_error()
    {
        // The server closes connections idle for 100 ms; at 4 requests/s on one connection every request after the
        // first finds its connection closed.
        using var server = new ScriptedHttpServer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfter: false, pieceBytes: 1 << 20, idleCloseMs: 100);
        JsonElement r = LoadTest("--target", server.Url("/x/{asset}"), "--rate", "4", "--duration", "2s", "--warmup", "0", "--connections", "1");
        Assert.Equal(8, r.GetProperty("requests").GetInt64());
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
    }

    [Fact]
    public void A_template_with_a_query_and_no_path_requests_the_root_with_that_query()
    {
        using var server = new ScriptedHttpServer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", closeAfter: false);
        JsonElement r = LoadTest("--target", server.Url("?asset={asset}&x=1"), "--requests", "20", "--warmup", "0", "--connections", "1", "--assets", "1");
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        Assert.Equal("GET /?asset=A0&x=1 HTTP/1.1", server.LastRequestLine);
    }

    [Fact]
    public void Open_loop_charges_a_stall_to_every_request_due_during_it()
    {
        // 500 requests/s for 2 s; the server holds everything from 1.0 s to 1.3 s. About 150 requests fall due in
        // the stall and wait from their due time until 1.3 s: 0 to 300 ms, so the slowest 10% of all 1000 wait over
        // about 100 ms. Timing from the actual send, the queued ones would look fast and hide the stall.
        JsonElement r = LoadTest("--target", _server.Url("/stall/{asset}"), "--rate", "500", "--duration", "2s", "--warmup", "0", "--connections", "64");
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        Assert.InRange(r.GetProperty("requests").GetInt64(), 990, 1010);
        Assert.True(r.GetProperty("p90_ms").GetDouble() > 50, $"p90 {r.GetProperty("p90_ms")} ms");
        Assert.True(r.GetProperty("max_ms").GetDouble() > 250, $"max {r.GetProperty("max_ms")} ms");
        Assert.True(r.GetProperty("p50_ms").GetDouble() < 20, $"p50 {r.GetProperty("p50_ms")} ms");
    }

    [Fact]
    public void Error_answers_are_counted_by_kind_and_still_timed()
    {
        JsonElement r = LoadTestExiting(1, "--target", _server.Url("/status/404/{asset}"), "--requests", "300", "--warmup", "0", "--connections", "4");
        Assert.Equal(300, r.GetProperty("requests").GetInt64());
        Assert.Equal(300, r.GetProperty("errors").GetInt64());
        Assert.Equal(300, r.GetProperty("errors_by_kind").GetProperty("HTTP 404").GetInt64());
        Assert.Equal(0, r.GetProperty("predictions").GetInt64());
    }

    [Fact]
    public void A_fixed_url_is_reported_as_naming_no_asset()
    {
        var (code, stdout, stderr) = Run("loadtest", "--target", _server.Url("/fast/TTRC"), "--requests", "50", "--warmup", "0", "--connections", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("assets none (the URL has no {asset})", stdout, StringComparison.Ordinal);
        (code, stdout, _) = Run("loadtest", "--help");
        Assert.Equal(0, code);
        Assert.Contains("usage: marketintel loadtest --target", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Chunked_bodies_larger_than_the_read_buffer_are_read_whole()
    {
        JsonElement r = LoadTest("--target", _server.Url("/chunked/{asset}"), "--requests", "500", "--warmup", "0", "--connections", "4");
        Assert.Equal(500, r.GetProperty("requests").GetInt64());
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        // One connection per worker plus the first request's: a misread body would break the stream and reconnect.
        Assert.Equal(501, _server.Requests);
    }

    [Theory]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: yes\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false)]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true)]
    [InlineData("HTTP/1.0 200 OK\r\n\r\nthe body runs to the end of the connection", true)]
    public void Every_response_framing_is_read_even_when_it_arrives_a_few_bytes_at_a_time(string response, bool closes)
    {
        using var server = new ScriptedHttpServer(response, closes);
        JsonElement r = LoadTest("--target", server.Url("/x/{asset}"), "--requests", "200", "--warmup", "0", "--connections", "4");
        Assert.Equal(200, r.GetProperty("requests").GetInt64());
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        Assert.Equal(201, server.Requests);
    }

    [Fact]
    public void A_target_that_does_not_speak_http_is_refused_with_the_reason_not_hung_on()
    {
        using var server = new ScriptedHttpServer("SSH-2.0-OpenSSH_9.2\r\n\r\n", closeAfter: false);
        var (code, _, stderr) = Run("loadtest", "--target", server.Url("/x/{asset}"), "--requests", "50", "--timeout", "2s");
        Assert.Equal(2, code);
        Assert.Contains("no answer to a first request: bad response: not an HTTP/1.x status line", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_listening_stops_the_test_before_it_starts_with_the_reason()
    {
        int port = FreePorts.Pick(1)[0];
        var (code, _, stderr) = Run("loadtest", "--target", $"http://127.0.0.1:{port}/predict/{{asset}}", "--duration", "1s");
        Assert.Equal(2, code);
        Assert.Contains("connection refused", stderr, StringComparison.Ordinal);
        (code, _, stderr) = Run("loadtest", "--target", $"grpc://127.0.0.1:{port}", "--duration", "1s");
        Assert.Equal(2, code);
        Assert.Contains("no answer to a first request: connection refused", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--target|ftp://x:1/", "--target 'ftp://x:1/' must be grpc[s]://HOST:PORT or an http[s]://HOST:PORT/... URL")]
    [InlineData("--target|grpc://127.0.0.1", "must look like grpc://HOST:PORT")]
    [InlineData("--target|grpcs://127.0.0.1", "must look like grpcs://HOST:PORT")]
    [InlineData("--target|https://{asset}.example:1/p", "is not an https://HOST:PORT/path URL template")]
    [InlineData("--target|http://127.0.0.1:1/p/{asset}|--batch|5", "--batch applies to gRPC targets")]
    [InlineData("--target|http://127.0.0.1:1/p/{asset}|--streams|4", "--streams applies to gRPC targets")]
    [InlineData("--target|https://127.0.0.1:1/p/{asset}|--streams|4", "--streams applies to gRPC targets")]
    [InlineData("--target|https://127.0.0.1:1/p/{asset}|--tls-ca|/no/such/ca.pem", "--tls-ca: '/no/such/ca.pem' does not exist")]
    [InlineData("--target|grpcs://127.0.0.1:1|--tls-ca|/no/such/ca.pem", "--tls-ca: '/no/such/ca.pem' does not exist")]
    [InlineData("--target|grpc://127.0.0.1:1|--streams|101", "--streams")]
    [InlineData("--target|grpc://127.0.0.1:1|--connections|200|--streams|100", "more than 10,000")]
    [InlineData("--target|http://127.0.0.1:1/p|--rate|0", "option '--rate': '0'")]
    [InlineData("--target|http://127.0.0.1:1/p|--duration|ten", "option '--duration': 'ten' is not a duration")]
    [InlineData("--target|http://127.0.0.1:1/p|--duration|5s|--requests|10", "either --duration or --requests")]
    [InlineData("--target|http://127.0.0.1:1/p|--zipf|-1", "option '--zipf': '-1'")]
    [InlineData("--target|http://127.0.0.1:1/p|--seed-assets|10", "--seed-assets needs --features")]
    [InlineData("--target|http://127.0.0.1:1/p|--connections|0", "option '--connections': '0'")]
    [InlineData("--target|grpc://127.0.0.1:1|--assets|5|--batch|6", "--batch 6 is more than the 5 assets")]
    [InlineData("--target|http://127.0.0.1:1/p|--json|/no/such/folder/r.json", "folder '/no/such/folder' does not exist")]
    [InlineData("--target|http://127.0.0.1:1/p|--symbols|A,B|--assets|2", "either --assets (A0..A{N-1}) or --symbols")]
    [InlineData("--target|http://127.0.0.1:1/p|--symbols|A,B C", "--symbols: asset symbol 'B C' has white space at position 2")]
    [InlineData("--target|http://127.0.0.1:1/p|--symbols|A,B|--seed-assets|3|--features|2", "--seed-assets 3 is more than the 2 symbols")]
    public void Bad_options_are_refused_naming_what_is_wrong(string args, string message)
    {
        var (code, _, stderr) = Run(["loadtest", .. args.Split('|')]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tls_ca_that_holds_no_certificate_or_goes_with_a_target_without_tls_is_refused_naming_it()
    {
        string notPem = Path.Combine(Dir, "not-a-ca.pem");
        File.WriteAllText(notPem, "just text\n");
        foreach (string target in new[] { "https://127.0.0.1:1/p/{asset}", "grpcs://127.0.0.1:1" })
        {
            var (code, _, stderr) = Run("loadtest", "--target", target, "--tls-ca", notPem);
            Assert.Equal(2, code);
            Assert.Contains($"--tls-ca: '{notPem}' holds no PEM certificate", stderr, StringComparison.Ordinal);
        }

        // Nothing would check the CA without TLS: a forgotten "s" is refused rather than taken for a checked server.
        string ca = TestCertificates.Make(Dir).Ca;
        foreach (string target in new[] { "http://127.0.0.1:1/p/{asset}", "grpc://127.0.0.1:1" })
        {
            var (code, _, stderr) = Run("loadtest", "--target", target, "--tls-ca", ca);
            Assert.Equal(2, code);
            Assert.Contains($"--tls-ca applies to https:// and grpcs:// targets; '{target}' does not use TLS", stderr, StringComparison.Ordinal);
        }
    }

    private readonly record struct WrkResult(double Throughput, double P50Ms, double P90Ms, long Requests);

    private static WrkResult Wrk(string url, int connections, int seconds)
    {
        var start = new ProcessStartInfo("wrk", ["-t1", $"-c{connections}", $"-d{seconds}s", "--latency", url]) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("these tests compare with wrk: apt-get install wrk (./scripts/test.sh installs it)", e);
        }
        using (process)
        {
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, output + process.StandardError.ReadToEnd());
            string Line(string part) => output.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith(part, StringComparison.Ordinal) || (part == "requests in" && l.Contains(part, StringComparison.Ordinal)));
            double Ms(string value) => value.EndsWith("us", StringComparison.Ordinal) ? double.Parse(value[..^2], CultureInfo.InvariantCulture) / 1000
                : value.EndsWith("ms", StringComparison.Ordinal) ? double.Parse(value[..^2], CultureInfo.InvariantCulture)
                : double.Parse(value[..^1], CultureInfo.InvariantCulture) * 1000;
            return new WrkResult(
                double.Parse(Line("Requests/sec:").Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture),
                Ms(Line("50%").Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]),
                Ms(Line("90%").Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]),
                long.Parse(Line("requests in").Split(' ')[0], CultureInfo.InvariantCulture));
        }
    }
}

/// <summary>The open loop's pacer where it cannot call usleep (off Linux): it never wakes early, nor a timer tick late.</summary>
[Collection(RunsAlone.Name)]
public sealed class PortableSleepTests
{
    [Theory]
    [InlineData(0.05)]
    [InlineData(0.5)]
    [InlineData(3)]
    [InlineData(20)]
    public void The_portable_sleep_waits_at_least_as_long_as_asked_and_not_a_timer_tick_more(double milliseconds)
    {
        long ticks = (long)(milliseconds / 1000 * Stopwatch.Frequency);
        var elapsed = new List<double>();
        // Fifty runs, not five: on a machine whose cores are all busy every one of five runs could be preempted.
        for (int i = 0; i < 50; i++)
        {
            long start = Stopwatch.GetTimestamp();
            LoadRunner.SleepPortably(ticks);
            elapsed.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        Assert.All(elapsed, e => Assert.True(e >= milliseconds, $"woke after {e:0.000} ms of {milliseconds} ms"));
        // Thread.Sleep(1) alone sleeps 1 ms or more for a 50 µs wait; the best of the runs stays well under that. (A
        // busy machine may delay any one run.)
        Assert.True(elapsed.Min() < milliseconds + 0.9, $"best of {elapsed.Count} took {elapsed.Min():0.000} ms for {milliseconds} ms");
    }
}

/// <summary>The asset picker's distributions and the seeded vectors.</summary>
public sealed class AssetPickerTests
{
    [Fact]
    public void Uniform_picks_every_asset_about_equally()
    {
        var picker = new AssetPicker(50, null);
        var random = new Random(3);
        var counts = new int[50];
        for (int i = 0; i < 100_000; i++)
        {
            counts[picker.Next(random)]++;
        }
        // 2000 expected each, standard deviation about 44: 5 sigma either way.
        Assert.All(counts, c => Assert.InRange(c, 1780, 2220));
    }

    [Fact]
    public void Zipf_picks_asset_k_with_probability_proportional_to_one_over_k_plus_one_to_the_s()
    {
        const int n = 100;
        const double s = 1.1;
        var picker = new AssetPicker(n, s);
        double harmonic = Enumerable.Range(1, n).Sum(k => Math.Pow(k, -s));
        var random = new Random(5);
        var counts = new int[n];
        const int draws = 400_000;
        for (int i = 0; i < draws; i++)
        {
            counts[picker.Next(random)]++;
        }
        foreach (int k in new[] { 0, 1, 4, 20, 99 })
        {
            double p = Math.Pow(k + 1, -s) / harmonic;
            Assert.Equal(p, picker.Probability(k), 9);
            double sigma = Math.Sqrt(draws * p * (1 - p));
            Assert.InRange(counts[k], draws * p - 5 * sigma, draws * p + 5 * sigma);
        }
        Assert.True(counts[0] > 10 * counts[99]);
    }

    [Fact]
    public void Seeded_vectors_are_the_same_for_the_same_seed_and_asset_and_look_standard_normal()
    {
        Assert.Equal(LoadTestCommand.RandomVector(1, 7, 40), LoadTestCommand.RandomVector(1, 7, 40));
        Assert.NotEqual(LoadTestCommand.RandomVector(1, 7, 40), LoadTestCommand.RandomVector(1, 8, 40));
        float[] many = Enumerable.Range(0, 500).SelectMany(i => LoadTestCommand.RandomVector(2, i, 40)).ToArray();
        double mean = many.Average();
        double sd = Math.Sqrt(many.Sum(v => (v - mean) * (v - mean)) / many.Length);
        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(sd, 0.97, 1.03);
    }
}
