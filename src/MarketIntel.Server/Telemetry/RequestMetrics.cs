using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using MarketIntel.Server.Api;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace MarketIntel.Server.Telemetry;

/// <summary>
/// Count and latency of every HTTP and gRPC request, by status code, method and endpoint (the route pattern; gRPC
/// methods as <c>/marketintel.v1.Grid/Method</c>), under the names prometheus-net's <c>UseHttpMetrics</c> gives
/// them. That middleware took about 6% of the server's CPU per gRPC call on the 2-core VM (three nested middlewares,
/// label lookups and exemplars on every request); this one resolves each (endpoint, method, code, gRPC status) to its
/// tags once and then costs two timestamps and two measurements per request (docs/performance.md).
/// </summary>
/// <remarks>
/// A gRPC call's outcome travels in its <c>grpc-status</c> trailer (or header, for a call refused before any message)
/// of an HTTP 200, so the code alone cannot tell a failed call from a good one: <c>grpc_status</c> carries the status's
/// name (<c>NOT_FOUND</c>, one of 17), and is empty on responses without one (HTTP/JSON), which Prometheus reads as no
/// label.
/// </remarks>
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
    private readonly ConcurrentDictionary<(Endpoint? Endpoint, string Method, int Code, StatusCode? Grpc), KeyValuePair<string, object?>[]> _series = new();

    public RequestMetrics(RequestDelegate next, IMeterFactory meters)
    {
        _next = next;
        Meter meter = meters.Create(MeterName);
        _duration = meter.CreateHistogram("http_request_duration_seconds", "s",
            "HTTP and gRPC request latency by endpoint (gRPC methods appear as /marketintel.v1.Grid/Method) and status", tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _received = meter.CreateCounter<long>("http_requests_received_total", unit: null, "HTTP and gRPC requests by endpoint, HTTP status code and gRPC status (grpc_status, gRPC calls only)");
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
            ReadOnlySpan<KeyValuePair<string, object?>> tags = Tags(context.GetEndpoint(), Known.Contains(method) ? method : "OTHER", code, GrpcStatus(context));
            _duration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, tags);
            _received.Add(1, tags);
        }
    }

    /// <summary>
    /// The gRPC status a gRPC response carries, once the call has ended: in the trailers, or in the headers of a
    /// trailers-only response (a call that failed before sending a message, a refusal by the key check). Null for any
    /// other response (HTTP/JSON), whose trailers are not touched: reading them would create them. A value that is not
    /// one of the specification's 17 numbers is read as UNKNOWN, as a client would, which also keeps the series per
    /// endpoint bounded.
    /// </summary>
    private static StatusCode? GrpcStatus(HttpContext context)
    {
        if (context.Response.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true)
        {
            return null;
        }
        StringValues value = default;
        if (context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is not { } trailers || !trailers.TryGetValue(GrpcStatusHeader, out value))
        {
            context.Response.Headers.TryGetValue(GrpcStatusHeader, out value);
        }
        if (StringValues.IsNullOrEmpty(value))
        {
            return null;
        }
        return int.TryParse(value[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number)
            && number <= (int)StatusCode.Unauthenticated
            ? (StatusCode)number
            : StatusCode.Unknown;
    }

    private const string GrpcStatusHeader = "grpc-status";

    private KeyValuePair<string, object?>[] Tags(Endpoint? endpoint, string method, int code, StatusCode? grpc)
    {
        if (_series.TryGetValue((endpoint, method, code, grpc), out var tags))
        {
            return tags;
        }
        // Unmatched requests (no endpoint) share one series per method and code, as their paths are unbounded.
        string route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint?.DisplayName ?? "";
        return _series.GetOrAdd((endpoint, method, code, grpc),
            [new("code", code.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("method", method), new("endpoint", route),
             new("grpc_status", grpc is { } status ? Errors.StatusName(status) : "")]);
    }
}
