using MarketIntel.Api.V1;

namespace MarketIntel.Server.Tests;

/// <summary>
/// <c>/metrics</c> serves every metric docs/api.md lists under the name, type and labels listed there (dashboards and
/// alert rules query them), beside the meters of Orleans and ASP.NET Core.
/// </summary>
[Collection("server")]
public sealed class MetricsTests(ServerFixture server)
{
    private static readonly string[] RequestLabels = ["code", "method", "endpoint", "grpc_status"];

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
        ("marketintel_inference_duration_seconds", "histogram", ["model"]),
        ("marketintel_bar_age_seconds_bucket", "gauge", ["le"]),
        ("marketintel_silo_info", "gauge", ["role", "device"]),
        // Served at 0 from the silo's start, before any job: a silo's first job counts in rate() and increase().
        ("marketintel_retrain_jobs_started_total", "counter", ["trigger"]),
        ("marketintel_retrain_jobs_total", "counter", ["trigger", "state"]),
        ("marketintel_retrain_job_seconds_total", "counter", ["state"]),
        ("marketintel_retrain_jobs_active", "gauge", []),
        ("marketintel_retrain_jobs_active_oldest_seconds", "gauge", []),
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
            s => s.Labels.SequenceEqual([("code", "200"), ("method", "POST"), ("endpoint", "/marketintel.v1.Grid/Predict"), ("grpc_status", "OK")]));
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
    public async Task An_unknown_asset_looked_up_is_not_an_active_asset_and_one_with_bars_is()
    {
        double before = (await Scrape.From(server.Http, "/metrics")).Value("marketintel_active_assets");
        using (var notFound = await server.Http.GetAsync(new Uri($"/predict/{Bars.NewAsset("unknown")}", UriKind.Relative)))
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, notFound.StatusCode);
        }
        // Its empty grain lingers (Grid:UnknownAssetLinger) but holds nothing.
        Assert.Equal(before, (await Scrape.From(server.Http, "/metrics")).Value("marketintel_active_assets"));

        await Bars.Ingest(server.Grpc, Bars.NewAsset("known"), Bars.Range(0, 3));
        Assert.Equal(before + 1, (await Scrape.From(server.Http, "/metrics")).Value("marketintel_active_assets"));
    }

    [Fact]
    public async Task Inference_latency_is_timed_per_model_version_and_counts_every_prediction()
    {
        string asset = Bars.NewAsset("timed");
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 30));
        string model = Hosting.ModelBootstrap.ModelFor(ServerFixture.DirectionModel, File.ReadAllBytes(ServerFixture.DirectionModel)).ToString();
        string label = $"model=\"{model}\"";
        // No series until the version's first prediction.
        Scrape first = await Scrape.From(server.Http, "/metrics");
        double before = first.Samples("marketintel_inference_duration_seconds_count")
            .Where(s => s.Labels.SequenceEqual([("model", model)])).Sum(s => s.Value);
        // Other hosts of this test process (the worker-device tests) leave their versions' counts in prometheus-net's
        // process-wide registry, so the totals are compared as what these two predictions added.
        double predictedBefore = first.Value("marketintel_predictions_total");
        double timedBefore = first.Samples("marketintel_inference_duration_seconds_count").Sum(s => s.Value);

        await server.Grpc.PredictAsync(new PredictRequest { Asset = asset });
        using (await server.Http.GetAsync(new Uri($"/predict/{asset}", UriKind.Relative)))
        {
        }

        Scrape scrape = await Scrape.From(server.Http, "/metrics");
        Assert.Equal(before + 2, scrape.Value("marketintel_inference_duration_seconds_count", label));
        Assert.InRange(scrape.Value("marketintel_inference_duration_seconds_sum", label), 1e-9, 1.0);
        // Every prediction is timed under its model: what the versions' counts gained is what the total gained.
        Assert.Equal(scrape.Value("marketintel_predictions_total") - predictedBefore,
            scrape.Samples("marketintel_inference_duration_seconds_count").Sum(s => s.Value) - timedBefore);
    }

    [Fact]
    public async Task Bar_ages_are_one_distribution_over_the_silos_assets_not_a_series_per_asset()
    {
        Scrape before = await Scrape.From(server.Http, "/metrics");
        string asset = Bars.NewAsset("fresh");
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 3));

        Scrape scrape = await Scrape.From(server.Http, "/metrics");
        var buckets = scrape.Samples("marketintel_bar_age_seconds_bucket").ToArray();
        Assert.Equal(["1", "5", "15", "60", "300", "900", "3600", "14400", "86400", "259200", "+Inf"], buckets.Select(b => b.Labels.Single().Value));
        Assert.Equal(buckets.Select(b => b.Value).Order(), buckets.Select(b => b.Value));
        Assert.DoesNotContain(asset, scrape.Text, StringComparison.Ordinal);
        // The asset's bars arrived a moment ago: it is in the 5-second bucket, and in every asset's count.
        Assert.Equal(before.Value("marketintel_bar_age_seconds_bucket", "le=\"+Inf\"") + 1, scrape.Value("marketintel_bar_age_seconds_bucket", "le=\"+Inf\""));
        Assert.True(scrape.Value("marketintel_bar_age_seconds_bucket", "le=\"5\"") >= 1);
    }

    [Fact]
    public async Task The_unused_QUIC_meter_is_not_served()
    {
        Scrape scrape = await Scrape.From(server.Http, "/metrics");
        Assert.DoesNotContain(scrape.Families, f => f.Contains("quic", StringComparison.OrdinalIgnoreCase));
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
