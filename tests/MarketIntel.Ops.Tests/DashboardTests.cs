using System.Text.Json;
using MarketIntel.Tests;
using YamlDotNet.RepresentationModel;

namespace MarketIntel.Ops.Tests;

/// <summary>
/// dashboards/*.json are Grafana dashboards by the structure of Grafana's JSON model (no schema validator for it is
/// packaged here): what Grafana needs to load each, panels that fit the 24-column grid without overlapping, and every
/// query on the data source the provisioning files create. That the queries name real metrics is the end-to-end test's
/// job (<see cref="PrometheusEndToEndTests"/>).
/// </summary>
public sealed class DashboardTests
{
    private static readonly string[] PanelTypes = ["row", "timeseries", "stat"];

    public static TheoryData<string> Dashboards() => [.. PromQl.DashboardFiles.Select(f => Path.GetFileName(f))];

    private static JsonElement Load(string name)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "dashboards", name)));
        return json.RootElement.Clone();
    }

    // The uid of the one data source deploy/grafana provisions.
    private static string ProvisionedDataSource()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(RepoPaths.Root, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml")))
        {
            yaml.Load(reader);
        }
        var source = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["datasources"]).Single();
        Assert.Equal("prometheus", ((YamlScalarNode)source["type"]).Value);
        return ((YamlScalarNode)source["uid"]).Value!;
    }

    [Fact]
    public void There_are_the_serving_and_the_cluster_dashboards_with_distinct_uids()
    {
        var uids = PromQl.DashboardFiles.Select(f => Load(Path.GetFileName(f)).GetProperty("uid").GetString()).ToList();
        Assert.Equal(["marketintel-cluster", "marketintel-serving"], uids);
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void The_dashboard_has_what_Grafana_needs_to_load_it(string name)
    {
        JsonElement dashboard = Load(name);
        Assert.False(string.IsNullOrWhiteSpace(dashboard.GetProperty("title").GetString()));
        Assert.InRange(dashboard.GetProperty("uid").GetString()!.Length, 1, 40);
        Assert.InRange(dashboard.GetProperty("schemaVersion").GetInt32(), 36, 41);
        Assert.Equal(JsonValueKind.Array, dashboard.GetProperty("templating").GetProperty("list").ValueKind);
        Assert.Equal(JsonValueKind.Array, dashboard.GetProperty("annotations").GetProperty("list").ValueKind);
        Assert.StartsWith("now-", dashboard.GetProperty("time").GetProperty("from").GetString(), StringComparison.Ordinal);
        Assert.NotEmpty(dashboard.GetProperty("panels").EnumerateArray());
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Panels_have_distinct_ids_known_types_and_fit_the_grid_without_overlapping(string name)
    {
        var panels = Load(name).GetProperty("panels").EnumerateArray().ToList();
        var ids = panels.Select(p => p.GetProperty("id").GetInt32()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var boxes = new List<(string Title, int X, int Y, int W, int H)>();
        foreach (JsonElement panel in panels)
        {
            string title = panel.GetProperty("title").GetString()!;
            Assert.False(string.IsNullOrWhiteSpace(title));
            Assert.Contains(panel.GetProperty("type").GetString(), PanelTypes);
            JsonElement grid = panel.GetProperty("gridPos");
            var box = (title, grid.GetProperty("x").GetInt32(), grid.GetProperty("y").GetInt32(), grid.GetProperty("w").GetInt32(), grid.GetProperty("h").GetInt32());
            Assert.True(box.Item2 >= 0 && box.Item4 > 0 && box.Item2 + box.Item4 <= 24 && box.Item3 >= 0 && box.Item5 > 0, $"{name}: '{title}' is off the 24-column grid");
            foreach (var other in boxes)
            {
                bool overlap = box.Item2 < other.X + other.W && other.X < box.Item2 + box.Item4 && box.Item3 < other.Y + other.H && other.Y < box.Item3 + box.Item5;
                Assert.False(overlap, $"{name}: '{title}' overlaps '{other.Title}'");
            }
            boxes.Add(box);
        }
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void Every_panel_queries_the_provisioned_Prometheus_with_named_non_empty_targets(string name)
    {
        string source = ProvisionedDataSource();
        foreach (JsonElement panel in Load(name).GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row"))
        {
            string title = panel.GetProperty("title").GetString()!;
            Assert.Equal(source, panel.GetProperty("datasource").GetProperty("uid").GetString());
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.True(targets.Count > 0, $"{name}: '{title}' has no query");
            Assert.Equal(targets.Count, targets.Select(t => t.GetProperty("refId").GetString()).Distinct().Count());
            foreach (JsonElement target in targets)
            {
                Assert.Equal(source, target.GetProperty("datasource").GetProperty("uid").GetString());
                Assert.False(string.IsNullOrWhiteSpace(target.GetProperty("expr").GetString()), $"{name}: '{title}' has an empty query");
                Assert.NotEmpty(PromQl.Selectors(target.GetProperty("expr").GetString()!));
            }
        }
    }

    [Fact]
    public void The_serving_dashboards_Models_row_shows_every_live_score_counter_per_model_version()
    {
        var below = ServingRowExpressions("Models");
        foreach (string counter in new[] { "outcomes", "hits", "log_loss", "brier", "squared_error" }.Select(c => $"marketintel_model_{c}_total"))
        {
            var showing = below.Where(e => PromQl.Selectors(e).Any(s => s.Metric == counter)).ToList();
            Assert.True(showing.Count > 0, $"no panel of the Models row shows {counter}");
            Assert.All(showing, e => Assert.Contains("model", PromQl.Grouping(e)));
        }
    }

    [Fact]
    public void The_serving_dashboards_Models_row_shows_promotion_decisions_per_model_name_and_decision_summed_over_silos()
    {
        const string metric = "marketintel_promotion_decisions_total";
        var showing = ServingRowExpressions("Models").Where(e => PromQl.Selectors(e).Any(s => s.Metric == metric)).ToList();
        Assert.True(showing.Count > 0, $"no panel of the Models row shows {metric}");
        // The registry's silo counts them, and the registry may move: a panel adds the silos up, by model name and decision.
        Assert.All(showing, e => Assert.Contains($"sum by (model, decision) (increase({metric}{{", e, StringComparison.Ordinal));
    }

    [Fact]
    public void The_serving_dashboards_Drift_row_shows_every_drift_gauge_per_model_version_summed_or_maxed_over_silos()
    {
        var row = ServingRowExpressions("Drift");
        foreach (var (gauge, overSilos) in new[] { ("assets", "sum"), ("drifting_assets", "sum"), ("drifting_features", "sum"), ("worst_psi", "max") })
        {
            string metric = $"marketintel_drift_{gauge}";
            var showing = row.Where(e => PromQl.Selectors(e).Any(s => s.Metric == metric)).ToList();
            Assert.True(showing.Count > 0, $"no panel of the Drift row shows {metric}");
            Assert.All(showing, e => Assert.Equal(["model", "version"], PromQl.Grouping(e).Distinct().Order(StringComparer.Ordinal)));
            // A per-silo gauge: the cluster's figure is the sum of the silos' (the worst PSI their maximum), never an average.
            Assert.All(showing, e => Assert.Contains($"{overSilos} by (model, version) ({metric}", e, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void The_serving_dashboards_Retraining_row_shows_every_retraining_metric_summed_or_maxed_over_silos()
    {
        var row = ServingRowExpressions("Retraining");
        string[] metrics = ["marketintel_retrain_jobs_started_total", "marketintel_retrain_jobs_total", "marketintel_retrain_job_seconds_total",
            "marketintel_retrain_jobs_active", "marketintel_retrain_jobs_active_oldest_seconds", "marketintel_retrain_last_job_start_time_seconds"];
        foreach (string metric in metrics)
        {
            var showing = row.Where(e => PromQl.Selectors(e).Any(s => s.Metric == metric)).ToList();
            Assert.True(showing.Count > 0, $"no panel of the Retraining row shows {metric}");
            // Each silo's coordinators report their own jobs: a panel adds them up (or takes the oldest), never shows one silo's.
            Assert.All(showing, e => Assert.Matches($@"(sum|max)( by \([a-z, ]+\))? ?\((increase\()?{metric}\{{", e));
        }
    }

    // The queries of the serving dashboard's panels under the row titled <paramref name="title"/>, down to the next row.
    private static List<string> ServingRowExpressions(string title)
    {
        var panels = Load("marketintel-serving.json").GetProperty("panels").EnumerateArray().ToList();
        static int Y(JsonElement panel) => panel.GetProperty("gridPos").GetProperty("y").GetInt32();
        static bool IsRow(JsonElement panel) => panel.GetProperty("type").GetString() == "row";
        int top = Y(panels.Single(p => IsRow(p) && p.GetProperty("title").GetString() == title));
        int bottom = panels.Where(p => IsRow(p) && Y(p) > top).Select(Y).DefaultIfEmpty(int.MaxValue).Min();
        return [.. panels.Where(p => !IsRow(p) && Y(p) > top && Y(p) < bottom)
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString()!))];
    }

    [Fact]
    public void The_PromQL_reading_finds_metrics_matcher_labels_and_grouping_but_not_functions_strings_or_durations()
    {
        const string query = "histogram_quantile(0.99, sum by (endpoint, le) (rate(http_request_duration_seconds_bucket{job=\"m\",endpoint=~\"/predict/\\\\{asset\\\\}|x\"}[$__rate_interval]))) / up or vector(0)";
        Assert.Equal(
            [new PromQl.Selector("http_request_duration_seconds_bucket", ["job", "endpoint"]), new PromQl.Selector("up", [])],
            PromQl.Selectors(query), new SelectorComparer());
        Assert.Equal(["endpoint", "le"], PromQl.Grouping(query));
        Assert.Equal([new PromQl.Selector("marketintel:predict_slow:ratio_rate5m", [])], PromQl.Selectors("marketintel:predict_slow:ratio_rate5m > (14.4 * 0.01)"), new SelectorComparer());
    }

    private sealed class SelectorComparer : IEqualityComparer<PromQl.Selector>
    {
        public bool Equals(PromQl.Selector? x, PromQl.Selector? y) => x!.Metric == y!.Metric && x.Labels.SequenceEqual(y.Labels);

        public int GetHashCode(PromQl.Selector obj) => obj.Metric.GetHashCode(StringComparison.Ordinal);
    }
}
