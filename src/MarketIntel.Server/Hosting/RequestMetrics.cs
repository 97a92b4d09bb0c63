using System.Collections.Concurrent;
using System.Diagnostics;
using Prometheus;

namespace MarketIntel.Server.Hosting;

/// <summary>
/// Count and latency of every HTTP and gRPC request, by status code, method and endpoint (the route pattern; gRPC
/// methods as <c>/marketintel.v1.Grid/Method</c>), under the names prometheus-net's <c>UseHttpMetrics</c> gives
/// them. That middleware took about 6% of the server's CPU per gRPC call on the 2-core VM (three nested middlewares,
/// label lookups and exemplars on every request); this one resolves each (endpoint, method, code) to its two
/// series once and then costs two timestamps and two lock-free updates per request (docs/performance.md).
/// </summary>
internal sealed class RequestMetrics(RequestDelegate next)
{
    private static readonly string[] Labels = ["code", "method", "endpoint"];
    private static readonly ExemplarBehavior NoExemplars = new() { DefaultExemplarProvider = static (_, _) => Exemplar.None };

    private static readonly Histogram Duration = Metrics.CreateHistogram(
        "http_request_duration_seconds",
        "HTTP and gRPC request latency by endpoint (gRPC methods appear as /marketintel.v1.Grid/Method)",
        new HistogramConfiguration { Buckets = GridPrometheus.LatencyBuckets, LabelNames = Labels, ExemplarBehavior = NoExemplars });

    private static readonly Counter Received = Metrics.CreateCounter(
        "http_requests_received_total",
        "HTTP and gRPC requests by endpoint and status code",
        new CounterConfiguration { LabelNames = Labels, ExemplarBehavior = NoExemplars });

    private static readonly ConcurrentDictionary<(Endpoint? Endpoint, string Method, int Code), Series> Cache = new();

    private static readonly HashSet<string> Known =
        [HttpMethods.Get, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Head, HttpMethods.Patch, HttpMethods.Options];

    public async Task InvokeAsync(HttpContext context)
    {
        long start = Stopwatch.GetTimestamp();
        bool threw = true;
        try
        {
            await next(context);
            threw = false;
        }
        finally
        {
            // A handler that threw ends as a 500 unless it had already sent its status.
            int code = threw && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
            // Methods other than the standard ones share a label, so a client cannot add series at will.
            string method = HttpMethods.GetCanonicalizedValue(context.Request.Method);
            Series series = For(context.GetEndpoint(), Known.Contains(method) ? method : "OTHER", code);
            series.Duration.Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
            series.Received.Inc();
        }
    }

    private static Series For(Endpoint? endpoint, string method, int code)
    {
        if (Cache.TryGetValue((endpoint, method, code), out Series? series))
        {
            return series;
        }
        // Unmatched requests (no endpoint) share one series per method and code, as their paths are unbounded.
        string route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint?.DisplayName ?? "";
        string[] labels = [code.ToString(System.Globalization.CultureInfo.InvariantCulture), method, route];
        return Cache.GetOrAdd((endpoint, method, code), new Series(Duration.WithLabels(labels), Received.WithLabels(labels)));
    }

    private sealed record Series(Histogram.Child Duration, Counter.Child Received);
}
