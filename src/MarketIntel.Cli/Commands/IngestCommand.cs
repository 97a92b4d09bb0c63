using System.Diagnostics;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel ingest</c>: streams a bar CSV to the grid through IngestBars. The file goes in calls of
/// <c>--chunk</c> bars; each call's reply acknowledges its bars. On a transient failure the command reconnects
/// and resends from the last acknowledged bar: the grid ignores bars it already has, so nothing is counted twice
/// (bars applied before the failure come back as ignored). An acknowledgement counts only while the server that
/// gave it holds the bars: every call names the holder of the earlier acknowledgements (the first reply says who
/// it is), and a server that restarted without durable storage is another holder and refuses the call; the command
/// then starts again from the first bar, so what it reports is what the server holds.
/// </summary>
internal static class IngestCommand
{
    public const string Usage = "marketintel ingest --target grpc[s]://HOST:PORT --asset SYMBOL --file BARS.csv [--close COLUMN] [--chunk 5000] [--retries 10] [--api-key KEY] [--tls-ca CA.pem]";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var options = CliArguments.Parse(args, ["target", "asset", "file", "close", "chunk", "retries", "api-key", "tls-ca"]);
        string target = options.Required("target");
        string asset = options.Required("asset");
        string file = options.Required("file");
        int chunk = options.OptionalInt("chunk", 1, 1_000_000) ?? 5000;
        int retries = options.OptionalInt("retries", 0, 1000) ?? 10;
        if (Abstractions.AssetSymbol.Problem(asset) is { } problem)
        {
            throw new UsageException($"--asset: {problem}");
        }

        BarSeries series = BarCsv.Read(file, options.Optional("close"));
        long[] timestamps = BarTimestamps.ParseTimes(series.Timestamps, file);
        using var channel = GridChannel.Create(target, GridChannel.ApiKey(options), GridChannel.TrustedCa(options));
        var client = GridClient.Create(channel);
        var clock = Stopwatch.StartNew();
        var totals = new IngestBarsReply();
        int sent = 0, reconnects = 0, restarts = 0, failuresInARow = 0;
        string holder = "";  // who acknowledged the bars counted so far; "" until the first reply (or a server that does not say)
        while (sent < series.Count)
        {
            int end = Math.Min(series.Count, sent + chunk);
            try
            {
                IngestBarsReply reply = GridClient.IngestAsync(client, asset, series, timestamps, sent, end, holder).GetAwaiter().GetResult();
                if (holder.Length == 0)
                {
                    holder = reply.Holder;
                }
                totals.Accepted += reply.Accepted;
                totals.Ignored += reply.Ignored;
                totals.Rejected += reply.Rejected;
                foreach (var r in reply.Rejections)
                {
                    if (totals.Rejections.Count < 20)
                    {
                        totals.Rejections.Add(r);
                    }
                }
                sent = end;
                failuresInARow = 0;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition && e.Trailers.GetValue(HolderTrailer) is { } now && failuresInARow < retries)
            {
                // Another holder: the server that acknowledged bars 1 to `sent` is gone with them. Counting starts again,
                // and so does sending (the new holder ignores any bar it already has).
                failuresInARow++;
                restarts++;
                stderr.WriteLine($"marketintel ingest: the server restarted without keeping the {sent} bars it had acknowledged (holder {holder}, now {now}); resending from bar 1");
                (sent, holder, totals) = (0, now, new IngestBarsReply());
            }
            catch (RpcException e) when (IsTransient(e.StatusCode) && failuresInARow < retries)
            {
                failuresInARow++;
                reconnects++;
                // The server's own hint (an overloaded archive says when to come back) over the back-off.
                var wait = Pushback(e) ?? TimeSpan.FromMilliseconds(Math.Min(5000, 100 * (1 << Math.Min(failuresInARow, 6))));
                stderr.WriteLine($"marketintel ingest: {e.StatusCode} ({e.Status.Detail}); resending from bar {sent + 1} in {wait.TotalMilliseconds:0} ms{(Pushback(e) is null ? "" : " as the server asks")} (attempt {failuresInARow} of {retries})");
                Thread.Sleep(wait);
            }
            catch (RpcException e)
            {
                throw new IngestException($"{target}: {e.StatusCode}: {e.Status.Detail} (after {sent} of {series.Count} bars were acknowledged)");
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        stdout.WriteLine($"{asset}: {series.Count} bars sent in {seconds:0.00} s ({series.Count / Math.Max(seconds, 1e-9):0} bars/s): accepted {totals.Accepted}, ignored {totals.Ignored}, rejected {totals.Rejected}" +
            (reconnects > 0 ? $", {reconnects} reconnect(s)" : "") + (restarts > 0 ? $", {restarts} server restart(s) that lost acknowledged bars: resent" : ""));
        foreach (var r in totals.Rejections)
        {
            stdout.WriteLine($"  rejected: {r.Reason}");
        }
        if (totals.Rejected > totals.Rejections.Count)
        {
            stdout.WriteLine($"  ... and {totals.Rejected - totals.Rejections.Count} more");
        }
        return 0;
    }

    /// <summary>How long the server asks a client to wait before it retries (gRPC's grpc-retry-pushback-ms trailer), capped at 30 s; null without a hint.</summary>
    private static TimeSpan? Pushback(RpcException e) =>
        long.TryParse(e.Trailers.GetValue("grpc-retry-pushback-ms"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long ms)
            ? TimeSpan.FromMilliseconds(Math.Min(ms, 30_000)) : null;

    /// <summary>The trailer in which a server refusing another holder's call names itself (the server's BarHolder.Trailer).</summary>
    private const string HolderTrailer = "marketintel-holder";

    /// <summary>Failures worth a retry: the server unreachable or the connection lost, not a refused request.</summary>
    public static bool IsTransient(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted;
}

/// <summary>An ingest the grid refused or that failed past its retries; reported on one line with exit code 2.</summary>
internal sealed class IngestException(string message) : Exception(message);
