using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Server.Hosting;
using MarketIntel.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// The grid's commands against a real host on loopback: the demo end to end, and <c>ingest</c> streaming a bar file,
/// replaying it idempotently, reporting bad bars, and reconnecting through a connection that is cut mid-stream.
/// </summary>
public sealed class GridCommandTests : CliTestBase, IAsyncLifetime
{
    private InProcessGrid? _grid;
    private int _grpcPort;

    public async Task InitializeAsync()
    {
        _grid = await InProcessGrid.StartAsync();
        _grpcPort = _grid.GrpcPort;
    }

    public async Task DisposeAsync()
    {
        if (_grid is not null)
        {
            await _grid.DisposeAsync();
        }
    }

    private string Target => $"grpc://127.0.0.1:{_grpcPort}";

    private static string Ttrc => RepoPaths.Data("ttrc-daily.csv");

    [Fact]
    public async Task The_demo_streams_a_prediction_for_every_bar_and_its_features_equal_the_batch_form()
    {
        var (code, stdout, err) = await Task.Run(() => Run("demo"));
        Assert.True(code == 0, err + stdout);
        Assert.Contains("online features equal the batch form: yes", stdout, StringComparison.Ordinal);
        foreach (string asset in new[] { "MSFT", "TTRC", "DAX", "SMI", "CAC", "FTSE" })
        {
            // The table row: asset, bars, accepted, predictions: one prediction streamed per accepted bar.
            string row = stdout.Split('\n').Single(l => l.StartsWith(asset + " ", StringComparison.Ordinal));
            string[] cells = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(int.Parse(cells[1], CultureInfo.InvariantCulture) > 200, row);
            Assert.Equal(cells[1], cells[2]);
            Assert.Equal(cells[2], cells[3]);
            // The last bar's time as the grid reports it (asOf): a date of the data's years, never day numbers shown as 1970.
            Assert.Equal(LastDates[asset], cells[4]);
        }

        // The champion and its shadow were scored on every bar but each asset's last, and the gate gave its verdict.
        int bars = stdout.Split('\n').Where(l => LastDates.Keys.Any(a => l.StartsWith(a + " ", StringComparison.Ordinal)))
            .Sum(l => int.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture));
        foreach (string version in new[] { "d3-n60   served", "d2-n30   shadow" })
        {
            string row = stdout.Split('\n').Single(l => l.StartsWith(version, StringComparison.Ordinal));
            Assert.Equal(bars - LastDates.Count, int.Parse(row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture));
        }
        Assert.Contains($"promotion gate on d2-n30 against d3-n60 ({bars - LastDates.Count} paired outcomes;", stdout, StringComparison.Ordinal);

        // Every asset's drift against the champion's training profile: MSFT's 249 bars do not fill a window of 500;
        // the others are measured (the reference pools every series, whose price levels differ: they drift).
        Assert.Contains("  MSFT  warming-up (249 of 500 bars)", stdout, StringComparison.Ordinal);
        foreach (string asset in LastDates.Keys.Where(a => a != "MSFT"))
        {
            string row = stdout.Split('\n').Single(l => l.StartsWith($"  {asset,-6}", StringComparison.Ordinal));
            Assert.Matches(@"^  \S+ +\d of 8 features drifting: ", row);
        }
    }

    // The bundled files' last rows; the EU indices' dates are approximate business days (data/README.md).
    private static readonly Dictionary<string, string> LastDates = new()
    {
        ["MSFT"] = "2001-09-27", ["TTRC"] = "2006-12-29", ["DAX"] = "1998-08-14", ["SMI"] = "1998-08-14", ["CAC"] = "1998-08-14", ["FTSE"] = "1998-08-14",
    };

    [Fact]
    public async Task Ingest_streams_a_file_and_a_replay_is_acknowledged_and_ignored()
    {
        int bars = BarCsv.Read(Ttrc, null).Count;
        var (code, stdout, err) = await Task.Run(() => Run("ingest", "--target", Target, "--asset", "TTRC.A", "--file", Ttrc, "--chunk", "2000"));
        Assert.True(code == 0, err);
        Assert.Contains($"accepted {bars}, ignored 0, rejected 0", stdout, StringComparison.Ordinal);

        (code, stdout, err) = await Task.Run(() => Run("ingest", "--target", Target, "--asset", "TTRC.A", "--file", Ttrc));
        Assert.True(code == 0, err);
        Assert.Contains($"accepted 0, ignored {bars}, rejected 0", stdout, StringComparison.Ordinal);
        await AssertFeaturesEqualBatch("TTRC.A");
    }

    [Fact]
    public async Task Ingest_refuses_a_file_with_a_bad_bar_naming_the_line_and_sends_nothing()
    {
        string file = Path.Combine(Dir, "bad.csv");
        File.WriteAllText(file, "date,open,high,low,close,volume\n" +
            "2024-01-02,10,11,9,10.5,100\n" +
            "2024-01-03,10,9,11,10.5,100\n" +
            "2024-01-04,10.8,11.2,10.6,11,120\n");
        var (code, _, err) = await Task.Run(() => Run("ingest", "--target", Target, "--asset", "BAD", "--file", file));
        Assert.Equal(2, code);
        Assert.Equal($"marketintel ingest: {file}:3:3: high 9 is below low 11\n", err);

        // No bar of the file reached the grid: the asset is still unknown.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_grpcPort}");
        var e = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await new Grid.GridClient(channel).GetFeaturesAsync(new GetFeaturesRequest { Asset = "BAD" }));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, e.StatusCode);
    }

    [Theory]
    [InlineData("1", "1")]                  // a numbered trading day, as in the bundled EU indices
    [InlineData("1732838400", "1732838400")] // Unix seconds: read as milliseconds it would be 1970-01-21
    public async Task Ingest_refuses_a_whole_number_key_that_is_not_a_time_instead_of_sending_a_1970_date(string first, string quoted)
    {
        string file = Path.Combine(Dir, $"numbered-{first}.csv");
        File.WriteAllText(file, $"day,close\n{first},10.5\n{long.Parse(first, System.Globalization.CultureInfo.InvariantCulture) + 1},10.7\n");
        var (code, _, err) = await Task.Run(() => Run("ingest", "--target", Target, "--asset", "NUMBERED", "--file", file));
        Assert.Equal(2, code);
        Assert.StartsWith($"marketintel ingest: {file}:2:1: timestamp '{quoted}' is not a time:", err, StringComparison.Ordinal);

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_grpcPort}");
        var e = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await new Grid.GridClient(channel).GetFeaturesAsync(new GetFeaturesRequest { Asset = "NUMBERED" }));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, e.StatusCode);
    }

    [Fact]
    public async Task Ingest_takes_unix_milliseconds_and_dates_alike()
    {
        string millis = Path.Combine(Dir, "millis.csv");
        string dates = Path.Combine(Dir, "dates.csv");
        File.WriteAllText(millis, "timestamp,close\n1732838400000,10.5\n1732924800000,10.7\n");
        File.WriteAllText(dates, "timestamp,close\n2024-11-29,10.5\n2024-11-30,10.7\n");
        Assert.Equal(0, (await Task.Run(() => Run("ingest", "--target", Target, "--asset", "KEYS", "--file", millis))).Code);
        var (code, stdout, err) = await Task.Run(() => Run("ingest", "--target", Target, "--asset", "KEYS", "--file", dates));
        Assert.True(code == 0, err);
        Assert.Contains("accepted 0, ignored 2", stdout, StringComparison.Ordinal); // the same two bars, keyed alike

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_grpcPort}");
        var features = await new Grid.GridClient(channel).GetFeaturesAsync(new GetFeaturesRequest { Asset = "KEYS" });
        Assert.Equal(1732924800000, features.AsOf);
    }

    [Fact]
    public async Task Ingest_resends_from_the_last_acknowledged_bar_after_the_connection_is_cut()
    {
        int bars = BarCsv.Read(Ttrc, null).Count;
        // The first connection through the proxy is cut once about 2,500 bars went upstream (some 60 bytes each),
        // in the middle of the third call.
        using var proxy = new CuttingProxy(_grpcPort, cutAfterBytes: 150_000);
        var (code, stdout, err) = await Task.Run(() => Run("ingest", "--target", $"grpc://127.0.0.1:{proxy.Port}", "--asset", "CUT", "--file", Ttrc, "--chunk", "1000"));
        Assert.True(code == 0, err);
        Assert.True(proxy.Cuts == 1, $"the proxy cut {proxy.Cuts} connections");
        Assert.Contains("resending from bar", err, StringComparison.Ordinal);
        Assert.Contains("1 reconnect(s)", stdout, StringComparison.Ordinal);
        // Every bar counted once: bars the grid applied in the call that was cut come back as ignored on the resend.
        var counts = System.Text.RegularExpressions.Regex.Match(stdout, @"accepted (\d+), ignored (\d+), rejected (\d+)");
        Assert.True(counts.Success, stdout);
        int accepted = int.Parse(counts.Groups[1].Value, CultureInfo.InvariantCulture);
        int ignored = int.Parse(counts.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.Equal(bars, accepted + ignored);
        Assert.Equal("0", counts.Groups[3].Value);
        await AssertFeaturesEqualBatch("CUT");
    }

    [Theory]
    [InlineData("http://127.0.0.1:1", "must look like grpc://HOST:PORT")]
    [InlineData("grpc://127.0.0.1", "must look like grpc://HOST:PORT")]
    public void Ingest_refuses_a_malformed_target(string target, string message)
    {
        var (code, _, err) = Run("ingest", "--target", target, "--asset", "X", "--file", Ttrc);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_refuses_a_bad_symbol_before_reading_the_file()
    {
        var (code, _, err) = Run("ingest", "--target", Target, "--asset", "has space", "--file", Path.Combine(Dir, "missing.csv"));
        Assert.Equal(2, code);
        Assert.StartsWith("marketintel ingest: --asset:", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_gives_up_with_a_clear_message_when_nothing_listens()
    {
        int port = FreePorts.Pick(1)[0];
        var (code, _, err) = await Task.Run(() => Run("ingest", "--target", $"grpc://127.0.0.1:{port}", "--asset", "X", "--file", Ttrc, "--retries", "1"));
        Assert.Equal(2, code);
        Assert.Contains("Unavailable", err, StringComparison.Ordinal);
        Assert.Contains("after 0 of", err, StringComparison.Ordinal);
    }

    private async Task AssertFeaturesEqualBatch(string asset)
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_grpcPort}");
        var online = await new Grid.GridClient(channel).GetFeaturesAsync(new GetFeaturesRequest { Asset = asset });
        BarSeries series = BarCsv.Read(Ttrc, null);
        double[][] batch = FeatureSet.Parse(string.Join(",", online.Names)).Compute(series);
        Assert.True(online.Names.Count > 5);
        for (int f = 0; f < online.Names.Count; f++)
        {
            Assert.True(batch[f][series.Count - 1].Equals(online.Values[f]), $"{online.Names[f]}: online {online.Values[f]}, batch {batch[f][series.Count - 1]}");
        }
    }

    /// <summary>
    /// A loopback TCP proxy that forwards both ways and resets the first connection once that many bytes have gone
    /// upstream: a network failure in the middle of a client-streaming call.
    /// </summary>
    private sealed class CuttingProxy : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly int _upstreamPort;
        private readonly long _cutAfterBytes;
        private readonly CancellationTokenSource _stop = new();
        private int _connections;
        private int _cuts;

        public CuttingProxy(int upstreamPort, long cutAfterBytes)
        {
            (_upstreamPort, _cutAfterBytes) = (upstreamPort, cutAfterBytes);
            _listener.Start();
            _ = AcceptLoop();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Cuts => Volatile.Read(ref _cuts);

        private async Task AcceptLoop()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                _ = Serve(client, Interlocked.Increment(ref _connections) == 1);
            }
        }

        private async Task Serve(Socket client, bool cut)
        {
            using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using (client)
            {
                try
                {
                    await upstream.ConnectAsync(IPAddress.Loopback, _upstreamPort);
                    using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    var up = Pump(client, upstream, cut ? _cutAfterBytes : long.MaxValue, done.Token);
                    var down = Pump(upstream, client, long.MaxValue, done.Token);
                    await Task.WhenAny(up, down);
                    if (cut && up.IsCompletedSuccessfully && up.Result)
                    {
                        Interlocked.Increment(ref _cuts);
                        // Linger 0: close with a reset, as a dropped connection looks to both ends.
                        client.LingerState = new LingerOption(true, 0);
                        upstream.LingerState = new LingerOption(true, 0);
                    }
                    await done.CancelAsync();
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    // A connection ending is the normal way out.
                }
            }
        }

        // Returns true when it stopped because the byte budget ran out.
        private static async Task<bool> Pump(Socket from, Socket to, long budget, CancellationToken token)
        {
            var buffer = new byte[16384];
            long sent = 0;
            try
            {
                while (true)
                {
                    int n = await from.ReceiveAsync(buffer, SocketFlags.None, token);
                    if (n == 0)
                    {
                        return false;
                    }
                    int allowed = (int)Math.Min(n, budget - sent);
                    await to.SendAsync(buffer.AsMemory(0, allowed), SocketFlags.None, token);
                    sent += allowed;
                    if (sent >= budget)
                    {
                        return true;
                    }
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
