using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using MarketIntel.Server.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Benchmarks;

/// <summary>
/// What measuring one gRPC call costs the server: <see cref="RequestMetrics"/> around a request that is already
/// answered (a Predict, status 200), time per request, one thread. Baseline: nothing listens to the meter (the
/// middleware's own work: timestamps, the series' tags, two measurements nobody takes). Then the grid's export,
/// which /metrics serves, and prometheus-net's meter adapter in its place (the path the export is the cheaper
/// alternative to). Each case runs in a process of its own, so the listeners do not meet.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class RequestMetricsBenchmarks
{
    private const int Requests = 10_000;
    private static readonly double[] Buckets = RequestMetrics.LatencyBuckets;
    private ServiceProvider _host = null!;
    private RequestMetrics _middleware = null!;
    private DefaultHttpContext _context = null!;
    private IDisposable? _listener;
    private Prometheus.CollectorRegistry _registry = null!;

    private void Setup(Func<IMeterFactory, IDisposable?> listen)
    {
        _host = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory meters = _host.GetRequiredService<IMeterFactory>();
        _registry = Prometheus.Metrics.DefaultRegistry;
        _listener = listen(meters);
        _middleware = new RequestMetrics(static _ => Task.CompletedTask, meters);
        _context = new DefaultHttpContext();
        _context.Request.Method = "POST";
        _context.SetEndpoint(new Endpoint(null, EndpointMetadataCollection.Empty, "/marketintel.v1.Grid/Predict"));
        // A gRPC answer, so that reading its status (grpc_status) is part of what is timed; with no trailers feature
        // here the middleware finds it in the headers, as for a trailers-only response.
        _context.Response.ContentType = "application/grpc";
        _context.Response.Headers["grpc-status"] = "0";
        // The answer must be right before it is timed: three requests, three counted (where anything counts).
        for (int i = 0; i < 3; i++)
        {
            _middleware.InvokeAsync(_context).GetAwaiter().GetResult();
        }
        if (_listener is not null)
        {
            using var text = new MemoryStream();
            _registry.CollectAndExportAsTextAsync(text).GetAwaiter().GetResult();
            string scraped = System.Text.Encoding.UTF8.GetString(text.ToArray());
            if (!scraped.Split('\n').Any(line => line.Contains("http_requests_received_total{", StringComparison.Ordinal)
                && line.Contains("\"/marketintel.v1.Grid/Predict\",grpc_status=\"OK\"", StringComparison.Ordinal) && line.EndsWith(" 3", StringComparison.Ordinal)))
            {
                throw new InvalidOperationException($"three requests were not counted:\n{scraped}");
            }
        }
    }

    [GlobalSetup(Target = nameof(NoListener))]
    public void SetupNoListener() => Setup(_ => null);

    [GlobalSetup(Target = nameof(Export))]
    public void SetupExport() => Setup(meters =>
    {
        PrometheusExport.ExcludeFromMeterAdapter();
        return new PrometheusExport(meters);
    });

    [GlobalSetup(Target = nameof(MeterAdapter))]
    public void SetupMeterAdapter() => Setup(_ =>
    {
        _registry = Prometheus.Metrics.NewCustomRegistry();
        return Prometheus.MeterAdapter.StartListening(new Prometheus.MeterAdapterOptions
        {
            Registry = _registry,
            MetricFactory = Prometheus.Metrics.WithCustomRegistry(_registry),
            ResolveHistogramBuckets = _ => Buckets,
        });
    });

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener?.Dispose();
        _host.Dispose();
    }

    private async Task Run()
    {
        for (int i = 0; i < Requests; i++)
        {
            await _middleware.InvokeAsync(_context);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Requests)]
    public Task NoListener() => Run();

    [Benchmark(OperationsPerInvoke = Requests)]
    public Task Export() => Run();

    [Benchmark(OperationsPerInvoke = Requests)]
    public Task MeterAdapter() => Run();
}
