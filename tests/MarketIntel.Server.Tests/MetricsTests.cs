using MarketIntel.Api.V1;

namespace MarketIntel.Server.Tests;

/// <summary>
/// <c>/metrics</c> serves every metric docs/api.md lists under the name, type and labels listed there (dashboards and
/// alert rules query them), beside the meters of Orleans and ASP.NET Core.
/// </summary>
[Collection("server")]
public sealed class MetricsTests(ServerFixture server)
{
    private static readonly string[] RequestLabels = ["code", "method", "endpoint"];

    // docs/api.md's table, less what a silo serves only in cluster mode (the archive, the Redis cache; see
    // MarketIntel.Cluster.Tests) or with API keys on (refusals; see MarketIntel.Security.Tests).
    private static readonly (string Name, string Type, string[] Labels)[] Documented =
    [
        ("http_request_duration_seconds", "histogram", RequestLabels),
        ("http_requests_received_total", "counter", RequestLabels),
        ("marketintel_bars_accepted_total", "counter", []),
        ("marketintel_bars_ignored_total", "counter", []),
        ("marketintel_bars_rejected_total", "counter", []),
        ("marketintel_predictions_total", "counter", []),
        ("marketintel_predictions_local_total", "counter", []),
        ("marketintel_active_assets", "gauge", []),
        ("marketintel_loaded_model_versions", "gauge", []),
        ("marketintel_stream_stalled_total", "counter", []),
        ("marketintel_stream_predictions_dropped_total", "counter", []),
        ("marketintel_asset_replays_total", "counter", []),
        ("marketintel_asset_replayed_bars_total", "counter", []),
        ("marketintel_asset_replay_seconds_total", "counter", []),
    ];

    [Fact]
    public async Task Every_documented_metric_is_served_with_its_type_help_and_labels()
    {
        string asset = Bars.NewAsset("scraped");
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 30));
        await server.Grpc.PredictAsync(new PredictRequest { Asset = asset });

        Scrape scrape = await Scrape.From(server.Http, "/metrics");
        foreach (var (name, type, labels) in Documented)
        {
            Assert.True(type == scrape.Type(name), $"{name}: type {scrape.Type(name) ?? "(not served)"}, documented as {type}");
            Assert.False(string.IsNullOrWhiteSpace(scrape.Help(name)), $"{name} has no help text");
            string sampled = type == "histogram" ? name + "_count" : name;
            Assert.True(scrape.Samples(sampled).Any(s => s.LabelNames.SequenceEqual(labels)),
                $"{sampled} has no sample labelled ({string.Join(",", labels)}):\n{string.Join("\n", scrape.Samples(sampled))}");
        }
        Assert.Contains(scrape.Samples("http_requests_received_total"),
            s => s.Labels.SequenceEqual([("code", "200"), ("method", "POST"), ("endpoint", "/marketintel.v1.Grid/Predict")]));
    }

    [Fact]
    public async Task The_request_latency_histogram_keeps_its_buckets_from_50_microseconds_to_2_5_seconds()
    {
        using (await server.Http.GetAsync(new Uri("/healthz", UriKind.Relative)))
        {
        }

        Scrape scrape = await Scrape.From(server.Http, "/metrics");
        var bounds = scrape.Samples("http_request_duration_seconds_bucket")
            .Where(s => s.Labels.Take(3).SequenceEqual([("code", "200"), ("method", "GET"), ("endpoint", "/healthz")]))
            .Select(s => s.Labels.Single(l => l.Name == "le").Value);
        Assert.Equal(["5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"], bounds);
    }

    [Fact]
    public async Task Orleans_and_ASP_NET_Core_meters_are_served_beside_the_grids_own()
    {
        using (await server.Http.GetAsync(new Uri("/healthz", UriKind.Relative)))
        {
        }

        Scrape scrape = await Scrape.From(server.Http, "/metrics");
        Assert.Contains(scrape.Families, f => f.StartsWith("microsoft_orleans_", StringComparison.Ordinal));
        Assert.Contains(scrape.Families, f => f.StartsWith("microsoft_aspnetcore_", StringComparison.Ordinal));
    }
}
