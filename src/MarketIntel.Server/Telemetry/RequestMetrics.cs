using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MarketIntel.Server.Telemetry;

/// <summary>
/// Count and latency of every HTTP and gRPC request, by status code, method and endpoint (the route pattern; gRPC
/// methods as <c>/marketintel.v1.Grid/Method</c>), under the names prometheus-net's <c>UseHttpMetrics</c> gives
/// them. That middleware took about 6% of the server's CPU per gRPC call on the 2-core VM (three nested middlewares,
/// label lookups and exemplars on every request); this one resolves each (endpoint, method, code) to its tags once
/// and then costs two timestamps and two measurements per request (docs/performance.md).
/// </summary>
internal sealed class RequestMetrics
{
    /// <summary>The name of this component's meter.</summary>
    public const string MeterName = "MarketIntel.Requests";

    /// <summary>Request latency buckets from 50 µs to 2.5 s: the grid answers in well under a millisecond.</summary>
    public static readonly double[] LatencyBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private static readonly HashSet<string> Known =
        [HttpMethods.Get, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Head, HttpMethods.Patch, HttpMethods.Options];

    private readonly RequestDelegate _next;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _received;
    private readonly ConcurrentDictionary<(Endpoint? Endpoint, string Method, int Code), KeyValuePair<string, object?>[]> _series = new();

    public RequestMetrics(RequestDelegate next, IMeterFactory meters)
    {
        _next = next;
        Meter meter = meters.Create(MeterName);
        _duration = meter.CreateHistogram("http_request_duration_seconds", "s",
            "HTTP and gRPC request latency by endpoint (gRPC methods appear as /marketintel.v1.Grid/Method)", tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _received = meter.CreateCounter<long>("http_requests_received_total", unit: null, "HTTP and gRPC requests by endpoint and status code");
    }

    public async Task InvokeAsync(HttpContext context)
    {
        long start = Stopwatch.GetTimestamp();
        bool threw = true;
        try
        {
            await _next(context);
            threw = false;
        }
        finally
        {
            // A handler that threw ends as a 500 unless it had already sent its status.
            int code = threw && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
            // Methods other than the standard ones share a label, so a client cannot add series at will.
            string method = HttpMethods.GetCanonicalizedValue(context.Request.Method);
            ReadOnlySpan<KeyValuePair<string, object?>> tags = Tags(context.GetEndpoint(), Known.Contains(method) ? method : "OTHER", code);
            _duration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, tags);
            _received.Add(1, tags);
        }
    }

    private KeyValuePair<string, object?>[] Tags(Endpoint? endpoint, string method, int code)
    {
        if (_series.TryGetValue((endpoint, method, code), out var tags))
        {
            return tags;
        }
        // Unmatched requests (no endpoint) share one series per method and code, as their paths are unbounded.
        string route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint?.DisplayName ?? "";
        return _series.GetOrAdd((endpoint, method, code),
            [new("code", code.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("method", method), new("endpoint", route)]);
    }
}
