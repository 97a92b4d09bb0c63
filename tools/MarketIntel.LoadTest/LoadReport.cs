using HdrHistogram;
using System.Globalization;
using System.Text.Json;

namespace MarketIntel.LoadTest;

/// <summary>A load test's result as a table for people and as JSON for scripts.</summary>
public static class LoadReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void WriteTable(LoadResult r, TextWriter output)
    {
        LoadTestSettings s = r.Settings;
        string over = s.Streams > 1 ? $"{s.Connections} connections x {s.Streams} streams" : $"{s.Connections} connections";
        string load = s.Rate is { } rate
            ? $"open loop at {rate.ToString("#,0.##", Invariant)} requests/s over {over}"
            : $"closed loop, {over}";
        string assets = s.Zipf is { } z ? $" (Zipf s={z.ToString("0.###", Invariant)})" : s.NamesAssets ? " (uniform)" : "";
        string window = s.Requests is { } n ? $"{n.ToString("#,0", Invariant)} requests" : $"{s.Duration.TotalSeconds.ToString("0.###", Invariant)} s";
        output.WriteLine($"target   {r.Target}");
        output.WriteLine($"load     {load}; assets {s.AssetsDescription}{assets}; {window} measured after a {s.Warmup.TotalSeconds.ToString("0.###", Invariant)} s warm-up");
        output.WriteLine();
        output.WriteLine(string.Format(Invariant, "{0,12} {1,12} {2,8} {3,9} {4,9} {5,9} {6,9} {7,9}", "requests", "requests/s", "errors", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"));
        output.WriteLine(string.Format(Invariant, "{0,12:#,0} {1,12:#,0.0} {2,8:#,0} {3,9:0.000} {4,9:0.000} {5,9:0.000} {6,9:0.000} {7,9:0.000}",
            r.Requests, r.Throughput, r.Errors, r.PercentileMs(50), r.PercentileMs(90), r.PercentileMs(99), r.PercentileMs(99.9), r.MaxMs));
        if (s.Batch > 0)
        {
            output.WriteLine(string.Format(Invariant, "predictions: {0:#,0} ({1:#,0.0}/s, {2} assets per call)", r.Predictions, r.Seconds > 0 ? r.Predictions / r.Seconds : 0, s.Batch));
        }
        if (r.Errors > 0)
        {
            output.WriteLine("errors:  " + string.Join(", ", r.ErrorsByKind.Select(e => $"{e.Key} x {e.Value.ToString("#,0", Invariant)}")));
        }
        if (s.Rate is { } target)
        {
            if (r.SendLag is { TotalCount: > 0 } lag)
            {
                output.WriteLine(string.Format(Invariant, "send lag behind the schedule: p50 {0:0.000} ms, p99 {1:0.000} ms, max {2:0.000} ms (counted in the latency)",
                    LoadResult.Ms(lag.GetValueAtPercentile(50)), LoadResult.Ms(lag.GetValueAtPercentile(99)), LoadResult.Ms(lag.GetMaxValue())));
            }
            if (r.Throughput < 0.95 * target && r.Requests > 0)
            {
                output.WriteLine($"the target kept up with {r.Throughput / target:P0} of the rate asked for: latency above includes the queue that built up");
            }
        }
    }

    public static void WriteJson(LoadResult r, string path)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        LoadTestSettings s = r.Settings;
        json.WriteStartObject();
        json.WriteString("target", r.Target);
        json.WriteString("mode", s.IsOpenLoop ? "open" : "closed");
        json.WriteNumber("connections", s.Connections);
        json.WriteNumber("streams", s.Streams);
        if (s.Rate is { } rate)
        {
            json.WriteNumber("rate", rate);
        }
        json.WriteNumber("assets", s.NamesAssets ? s.Assets : 0);
        if (s.Symbols is { } symbols)
        {
            json.WriteStartArray("symbols");
            foreach (string symbol in symbols)
            {
                json.WriteStringValue(symbol);
            }
            json.WriteEndArray();
        }
        if (s.Zipf is { } zipf)
        {
            json.WriteNumber("zipf", zipf);
        }
        if (s.Batch > 0)
        {
            json.WriteNumber("batch", s.Batch);
        }
        json.WriteNumber("warmup_s", s.Warmup.TotalSeconds);
        json.WriteNumber("duration_s", Math.Round(r.Seconds, 6));
        json.WriteNumber("throughput", Math.Round(r.Throughput, 3));
        json.WriteNumber("requests", r.Requests);
        json.WriteNumber("errors", r.Errors);
        json.WriteStartObject("errors_by_kind");
        foreach (var (kind, count) in r.ErrorsByKind)
        {
            json.WriteNumber(kind, count);
        }
        json.WriteEndObject();
        json.WriteNumber("predictions", r.Predictions);
        json.WriteNumber("p50_ms", Round(r.PercentileMs(50)));
        json.WriteNumber("p90_ms", Round(r.PercentileMs(90)));
        json.WriteNumber("p99_ms", Round(r.PercentileMs(99)));
        json.WriteNumber("p999_ms", Round(r.PercentileMs(99.9)));
        json.WriteNumber("max_ms", Round(r.MaxMs));
        json.WriteNumber("mean_ms", Round(r.MeanMs));
        if (r.SendLag is { TotalCount: > 0 } lag)
        {
            json.WriteNumber("send_lag_p99_ms", Round(LoadResult.Ms(lag.GetValueAtPercentile(99))));
        }
        json.WriteEndObject();
    }

    private static double Round(double ms) => Math.Round(ms, 4);
}
