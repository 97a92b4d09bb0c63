using MarketIntel.Abstractions;

namespace MarketIntel.Benchmarks;

/// <summary>
/// Bar times for the benchmarks that feed a grain for as long as BenchmarkDotNet runs them. A fast case sends tens of
/// millions of bars; at one minute a bar, starting ten years back, they ran into the future within one run, where the
/// grain rejects them at once (Grid:FutureTolerance), and the fast case then timed rejections, not predictions. One
/// second a bar from thirty years back leaves room for about 900 million bars.
/// </summary>
internal sealed class BarClock
{
    private long _next = DateTimeOffset.UtcNow.AddYears(-30).ToUnixTimeMilliseconds();

    /// <summary>The next bar's time.</summary>
    public long Next() => _next += 1000;

    /// <summary>
    /// Throws unless the grain took every bar of a call: a benchmark whose bars were refused would time the refusal.
    /// </summary>
    public static IngestResult Accepted(IngestResult result, int bars) =>
        result.Accepted == bars
            ? result
            : throw new InvalidOperationException($"the grain took {result.Accepted} of {bars} bars ({string.Join("; ", result.Reasons)}): the benchmark would time refusals");
}
