using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Text.Json;
using MarketIntel.Api.V1;
using MarketIntel.Cluster.Tests;
using MarketIntel.Tests;
using Xunit.Abstractions;

namespace MarketIntel.Ops.Tests;

/// <summary>
/// A real Prometheus, loaded with deploy/prometheus/rules, scrapes a real cluster-mode silo (PostgreSQL, Redis) under a
/// short load of ingest and predictions over both protocols, its assets served by a registered model whose lineage
/// names a label (a direction version served, a return version as its shadow), so that live scores are counted, and whose
/// served version has a reference profile built from the assets' archived bars, with drift windows small enough (50 bars)
/// to fill before the load, so that drift is measured; a retraining job of the model, asked for by hand, has registered
/// its challenger (a third, shadow version) before the load, so the retraining metrics count it. Every expression of every dashboard panel and every rule
/// is then evaluated: each must be valid PromQL, each panel and recording rule must return data, and every metric each
/// names must be one the grid exported, with the labels the expression uses. Orleans publishes some meters only from
/// their first event (a dropped message, a shed request): a metric absent here passes only if it is such an Orleans
/// instrument, by the name Orleans gives it. Stopping the silo then makes the silo-down alert pending.
/// </summary>
[Collection(OpsGroup.Name)]
public sealed class PrometheusEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private readonly SortedSet<string> _byOrleansNameOnly = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _owned = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private readonly string _folder = Directory.CreateTempSubdirectory("mi-prometheus-").FullName;
    private Process? _prometheus;
    private string _api = "";

    [Fact]
    public async Task Every_panel_and_rule_expression_evaluates_against_a_scraped_grid_and_stopping_the_silo_makes_the_silo_down_alert_pending()
    {
        var cluster = await OneSiloCluster.Start(GridSettings);
        _owned.Add(cluster);
        var silo = cluster.Silo;
        StartPrometheus(silo.HttpPort);

        await IngestAll(silo, 0, HistoryBars);
        await ServeLabelledModels(silo);
        // The retraining counters are exported at 0 before any job (every trigger and state), and scraped so.
        await Until(async () => (await Query("marketintel_retrain_jobs_started_total{trigger=\"manual\"} == 0")).GetArrayLength() > 0
            && (await Query("marketintel_retrain_jobs_total{trigger=\"manual\",state=\"registered\"} == 0")).GetArrayLength() > 0,
            "Prometheus has scraped the retraining counters at 0");
        string challenger = await Retrain(silo);
        await IngestAll(silo, HistoryBars, ServedBars);
        await Load(silo, TimeSpan.FromSeconds(12));
        // Scrapes and rule evaluations every second: wait for the SLI recording rules, which need the load's requests.
        await Until(async () => (await Query("marketintel:predict_slow:ratio_rate5m")).GetArrayLength() > 0, "the latency SLI's recording rule has data");

        var exported = (await Get("/api/v1/label/__name__/values")).EnumerateArray().Select(n => n.GetString()!).ToHashSet(StringComparer.Ordinal);
        var failures = new List<string>();
        var expressions = PromQl.FromDashboards().Concat(PromQl.FromRules()).ToList();
        Assert.True(expressions.Count > 40, $"only {expressions.Count} expressions found");
        foreach (var expression in expressions)
        {
            failures.AddRange(await Check(expression, exported));
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        output.WriteLine($"absent on this grid, checked by Orleans' instrument names: {string.Join(", ", _byOrleansNameOnly)}");

        // The live score panels show every version where every kind has the score (the retrained challenger, a direction
        // model as v1, among them), and tell the kinds apart where not.
        Assert.Equal(Sorted("e2e@v1", "e2e@v2", "e2e@" + challenger), await ModelsShownBy(expressions, "Live accuracy by model version"));
        Assert.Equal(Sorted("e2e@v1", "e2e@" + challenger), await ModelsShownBy(expressions, "Mean log loss by model version"));
        Assert.Equal(Sorted("e2e@v1", "e2e@" + challenger), await ModelsShownBy(expressions, "Mean Brier score by model version"));
        Assert.Equal(["e2e@v2"], await ModelsShownBy(expressions, "Mean squared error by model version"));
        // The registry publishes each model name's promotion decisions at 0, so the panel shows the model before any
        // decision, promoted and refused apart (the demo model the silo serves by default among them).
        Assert.Equal(2, (await ModelsShownBy(expressions, "Promotion decisions per day by model and decision")).Count(m => m == "e2e"));
        // Every asset's drift window is full, so the drift row shows the served version judged on all four.
        JsonElement judged = await Query("sum by (model, version) (marketintel_drift_assets)");
        Assert.Equal(Assets.Length, Value(judged.EnumerateArray().Single()));
        // The one job, counted once started and once registered. Its series existed at 0 before it, so the panels'
        // increase() sees it: a counter series first scraped at 1 would show no increase at all.
        Assert.Equal(1, Value((await Query("sum(marketintel_retrain_jobs_started_total{trigger=\"manual\"})")).EnumerateArray().Single()));
        Assert.Equal(1, Value((await Query("sum(marketintel_retrain_jobs_total{trigger=\"manual\",state=\"registered\"})")).EnumerateArray().Single()));
        Assert.Equal(0, Value((await Query("sum(marketintel_retrain_jobs_active)")).EnumerateArray().Single()));
        Assert.True(await PanelValue(expressions, "Retraining jobs started per hour by trigger", "trigger", "manual") > 0.5, "the started panel does not count the job");
        Assert.True(await PanelValue(expressions, "Retraining jobs ended per hour by state", "state", "registered") > 0.5, "the ended panel does not count the job");
        Assert.InRange(await PanelValue(expressions, "Time since each model's last retraining job", "model", "e2e"), 0, 600);
        // The one silo runs every role.
        Assert.Equal(1, await PanelValue(expressions, "Silos by role", "role", "all"));

        silo.Kill();
        await Until(async () => await AlertState("MarketIntelSiloDown") is "pending", "MarketIntelSiloDown is pending");
    }

    // The model versions a dashboard panel's one query shows now.
    private async Task<List<string>> ModelsShownBy(IEnumerable<PromQl.Expression> expressions, string title)
    {
        PromQl.Expression panel = expressions.Single(e => e.Source.Contains($": {title} (", StringComparison.Ordinal));
        JsonElement result = await Query(panel.Runnable);
        return [.. result.EnumerateArray().Select(series => series.GetProperty("metric").GetProperty("model").GetString()!).Order(StringComparer.Ordinal)];
    }

    private static List<string> Sorted(params string[] models) => [.. models.Order(StringComparer.Ordinal)];

    private static double Value(JsonElement sample) =>
        double.Parse(sample.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    // The value a dashboard panel's one query shows now for the series whose <paramref name="label"/> is <paramref name="value"/>.
    private async Task<double> PanelValue(IEnumerable<PromQl.Expression> expressions, string title, string label, string value)
    {
        PromQl.Expression panel = expressions.Single(e => e.Source.Contains($": {title} (", StringComparison.Ordinal));
        JsonElement result = await Query(panel.Runnable);
        return Value(result.EnumerateArray().Single(series => series.GetProperty("metric").GetProperty(label).GetString() == value));
    }

    // A retraining job of e2e asked for by hand on the history's assets (no drift window names them yet), followed to its
    // end: it must register its challenger, which becomes a shadow. Returns the challenger's version.
    private async Task<string> Retrain(SiloProcess silo)
    {
        string http = $"http://127.0.0.1:{silo.HttpPort}/models/e2e/retrain";
        string id;
        using (var started = await _http.PostAsync(new Uri(http), new StringContent(JsonSerializer.Serialize(new { assets = Assets, reason = "ops end-to-end" }))))
        {
            string body = await started.Content.ReadAsStringAsync();
            Assert.True(started.StatusCode == HttpStatusCode.Accepted, $"POST /models/e2e/retrain: {started.StatusCode} {body}");
            using var json = JsonDocument.Parse(body);
            id = json.RootElement.GetProperty("job").GetProperty("id").GetString()!;
        }
        JsonElement job = default;
        await Until(async () =>
        {
            using var json = JsonDocument.Parse(await _http.GetStringAsync(new Uri($"{http}/{id}")));
            job = json.RootElement.Clone();
            return job.GetProperty("state").GetString() is not "waiting" and not "running";
        }, $"retraining job {id} ends", TimeSpan.FromSeconds(120));
        Assert.True(job.GetProperty("state").GetString() == "registered", $"retraining job {id}: {job}");
        output.WriteLine($"retraining job {id}: accepted {job.GetProperty("createdAt")}, registered {job.GetProperty("finishedAt")}");
        return job.GetProperty("version").GetString()!;
    }

    // What is wrong with one expression against the scraped grid: nothing, or one line per fault.
    private async Task<IEnumerable<string>> Check(PromQl.Expression expression, HashSet<string> exported)
    {
        var faults = new List<string>();
        var selectors = PromQl.Selectors(expression.Query);
        bool onlyEventMeters = true;
        var labelsSeen = new HashSet<string>(StringComparer.Ordinal) { "__name__" };
        foreach (var selector in selectors)
        {
            if (!exported.Contains(selector.Metric))
            {
                if (!OrleansEventMeters.Contains(selector.Metric))
                {
                    faults.Add($"{expression.Source}: {selector.Metric} is not a metric the grid exported");
                }
                else if (selector.Labels.Any(l => l is not "job" and not "instance"))
                {
                    faults.Add($"{expression.Source}: {selector.Metric} was not exported here, so its labels ({string.Join(", ", selector.Labels)}) cannot be checked");
                }
                else
                {
                    _byOrleansNameOnly.Add(selector.Metric);
                }
                continue;
            }
            onlyEventMeters = false;
            var labels = await LabelNames(selector.Metric);
            labelsSeen.UnionWith(labels);
            foreach (string label in selector.Labels.Where(l => !labels.Contains(l)))
            {
                faults.Add($"{expression.Source}: {selector.Metric} has no label '{label}' (it has {string.Join(", ", labels.Order(StringComparer.Ordinal))})");
            }
        }
        foreach (string label in PromQl.Grouping(expression.Query).Where(l => !onlyEventMeters && !labelsSeen.Contains(l)))
        {
            faults.Add($"{expression.Source}: groups by '{label}', which none of its metrics has");
        }
        JsonElement result;
        try
        {
            result = await Query(expression.Runnable);
        }
        catch (InvalidOperationException e)
        {
            faults.Add($"{expression.Source}: {e.Message}");
            return faults;
        }
        // An alert's expression is empty while nothing is wrong; a panel's or a recording rule's must show data.
        if (!expression.IsAlert && !onlyEventMeters && result.GetArrayLength() == 0)
        {
            faults.Add($"{expression.Source}: no data for {expression.Runnable}");
        }
        return faults;
    }

    /// <summary>
    /// The Prometheus names of the Orleans instruments (Orleans.Core's InstrumentNames, as prometheus-net's meter adapter
    /// names them under the meter Microsoft.Orleans), histograms with their series' suffixes.
    /// </summary>
    private static readonly HashSet<string> OrleansEventMeters = OrleansInstruments();

    private static HashSet<string> OrleansInstruments()
    {
        Type names = Assembly.Load("Orleans.Core").GetType("Orleans.Runtime.InstrumentNames", throwOnError: true)!;
        var metrics = new HashSet<string>(StringComparer.Ordinal);
        foreach (FieldInfo field in names.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static).Where(f => f.IsLiteral && f.FieldType == typeof(string)))
        {
            string name = "microsoft_orleans_" + ((string)field.GetRawConstantValue()!).Replace('-', '_').Replace('.', '_');
            metrics.UnionWith([name, name + "_bucket", name + "_count", name + "_sum"]);
        }
        Assert.Contains("microsoft_orleans_orleans_gateway_load_shedding", metrics);
        return metrics;
    }

    private static readonly string[] Assets = ["E2E0", "E2E1", "E2E2", "E2E3"];

    // Bars archived before the model is served (the history its reference profile is built from), bars ingested once it
    // is served (a full drift window and then some), and a window small enough for the load to move it.
    private const int HistoryBars = 300, ServedBars = 60;

    // Drift alarms ask for no job here: the one job is the test's own, so its counts are known.
    private static readonly Dictionary<string, string> GridSettings = new()
    {
        ["Grid__Drift__Window"] = "50",
        ["Grid__Drift__EvaluateEveryBars"] = "10",
        ["Grid__Retraining__Triggers__Drift"] = "false",
    };

    // The demo models registered as two versions of one name, each with a lineage whose label has a one-bar horizon: v1
    // (direction, up_1) behind the alias the assets are assigned to, v2 (log return, logret_1) its shadow. Every bar
    // then scores the bar before's predictions of both, which the live score metrics count per version. v1's reference
    // profile is built from the archived history, so its assets' drift windows are judged once full.
    private async Task ServeLabelledModels(SiloProcess silo)
    {
        string http = $"http://127.0.0.1:{silo.HttpPort}/models/e2e";
        async Task Put(string path, HttpContent body)
        {
            using var response = await _http.PutAsync(new Uri(http + path), body);
            Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        string samples = Path.Combine(RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData");
        await Put("/versions/v1?alias=champion", new ByteArrayContent(File.ReadAllBytes(Path.Combine(samples, "direction-d3-n60.json"))));
        // The features too (the model's own), which a retraining job takes as its spec.
        await Put("/versions/v1/lineage", new StringContent("""
            {"label": {"kind": "direction", "horizon": 1},
             "features": ["rsi_14", "roc_10", "zscore_20", "bbpctb_20_2", "logretsd_20", "macd_12_26_9", "macdsignal_12_26_9", "lag_1_rsi_14"]}
            """));
        using (var profile = await _http.PostAsync(new Uri(http + "/versions/v1/profile"), new StringContent(JsonSerializer.Serialize(new { assets = Assets }))))
        {
            Assert.True(profile.IsSuccessStatusCode, $"POST /versions/v1/profile: {profile.StatusCode} {await profile.Content.ReadAsStringAsync()}");
        }
        await Put("/versions/v2", new ByteArrayContent(File.ReadAllBytes(Path.Combine(samples, "direction-d2-n30.json"))));
        await Put("/versions/v2/lineage", new StringContent("""{"label": {"kind": "logReturn", "horizon": 1}}"""));
        await Put("/shadows/v2", new StringContent(""));
        var assign = new AssignModelRequest { Name = "e2e", Version = "@champion" };
        assign.Assets.Add(Assets);
        await silo.Client.AssignModelAsync(assign);
    }

    // Ingest over gRPC (new bars, resent ones, an invalid one), predictions over HTTP and gRPC, unknown assets (HTTP 404,
    // gRPC NOT_FOUND), features and readiness probes, from a few concurrent loops.
    // Bars from..from + count of every asset in one call each, every one accepted.
    private static async Task IngestAll(SiloProcess silo, int from, int count)
    {
        foreach (string asset in Assets)
        {
            Assert.Equal(count, (await silo.Ingest(Bars(asset, from, count))).Accepted);
        }
    }

    private async Task Load(SiloProcess silo, TimeSpan duration)
    {
        string[] assets = Assets;
        var until = DateTime.UtcNow + duration;
        string http = $"http://127.0.0.1:{silo.HttpPort}";
        async Task Ingest()
        {
            for (int round = 0; DateTime.UtcNow < until; round++)
            {
                var request = Bars(assets[round % assets.Length], HistoryBars + ServedBars + (round / assets.Length), 1);
                request.Bars.Add(Bars("x", 0, 1).Bars[0]);
                request.Bars.Add(new Api.V1.Bar { Timestamp = 1_900_000_000_000L + round, Open = 1, High = 0.5, Low = 2, Close = 1, Volume = 1 });
                await silo.Ingest(request);
                await Task.Delay(50);
            }
        }
        async Task PredictHttp()
        {
            for (int i = 0; DateTime.UtcNow < until; i++)
            {
                using var response = await _http.GetAsync(new Uri($"{http}/predict/{assets[i % assets.Length]}"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                if (i % 10 == 0)
                {
                    // A new unknown asset each time: each is an activation reading grain state, so the storage latency
                    // panels' [1m] windows hold reads while the load runs, however long ago the known assets activated.
                    using var unknown = await _http.GetAsync(new Uri($"{http}/predict/NO_SUCH_ASSET_{i}"));
                    Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
                    using var features = await _http.GetAsync(new Uri($"{http}/features/{assets[0]}"));
                    using var ready = await _http.GetAsync(new Uri($"{http}/readyz"));
                }
            }
        }
        async Task PredictGrpc()
        {
            var client = silo.Client;
            for (int i = 0; DateTime.UtcNow < until; i++)
            {
                await client.PredictAsync(new PredictRequest { Asset = assets[i % assets.Length] });
                if (i % 10 == 0)
                {
                    var unknown = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await client.PredictAsync(new PredictRequest { Asset = "NO_SUCH_ASSET" }));
                    Assert.Equal(Grpc.Core.StatusCode.NotFound, unknown.StatusCode);
                }
            }
        }
        await Task.WhenAll(Ingest(), PredictHttp(), PredictGrpc());
    }

    // TTRC's daily bars (data/ttrc-daily.csv: timestamp,open,high,low,close,volume), the same for every asset.
    private static readonly string[] Daily = File.ReadAllLines(RepoPaths.Data("ttrc-daily.csv"))[1..];

    private static IngestBarsRequest Bars(string asset, int from, int count)
    {
        var request = new IngestBarsRequest { Asset = asset };
        foreach (string line in Daily.AsSpan(from, count))
        {
            double[] v = [.. line.Split(',')[1..].Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture))];
            long day = DateTimeOffset.Parse(line[..line.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
            request.Bars.Add(new Api.V1.Bar { Timestamp = day, Open = v[0], High = v[1], Low = v[2], Close = v[3], Volume = v[4] });
        }
        return request;
    }

    private void StartPrometheus(int siloHttpPort)
    {
        int port = ServerProcess.FreePort();
        string rules = Path.Combine(Tools.PrometheusFolder, "rules");
        // The deployment's rules as they are; scrapes and evaluations every second instead of every 15.
        File.WriteAllText(Path.Combine(_folder, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - {rules}/*.yml
            scrape_configs:
              - job_name: marketintel
                static_configs:
                  - targets: ["127.0.0.1:{siloHttpPort}"]
            """);
        var info = new ProcessStartInfo("prometheus",
            [$"--config.file={Path.Combine(_folder, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(_folder, "data")}",
             $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            _prometheus = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("prometheus was not found: run ./scripts/test.sh, which installs Debian's prometheus", e);
        }
        _prometheus.OutputDataReceived += (_, _) => { };
        _prometheus.ErrorDataReceived += (_, _) => { };
        _prometheus.BeginOutputReadLine();
        _prometheus.BeginErrorReadLine();
        ServerProcess.WaitForPort(port, TimeSpan.FromSeconds(30), _prometheus);
        _api = $"http://127.0.0.1:{port}";
    }

    private async Task<JsonElement> Get(string path)
    {
        using var response = await _http.GetAsync(new Uri(_api + path));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        JsonElement root = json.RootElement;
        if (root.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"Prometheus refused it: {root.GetProperty("error").GetString()}");
        }
        return root.GetProperty("data").Clone();
    }

    private async Task<JsonElement> Query(string promql)
    {
        JsonElement data = await Get("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        return data.GetProperty("result");
    }

    private async Task<HashSet<string>> LabelNames(string metric)
    {
        JsonElement series = await Get("/api/v1/series?match[]=" + Uri.EscapeDataString(metric));
        return series.EnumerateArray().SelectMany(s => s.EnumerateObject().Select(p => p.Name)).ToHashSet(StringComparer.Ordinal);
    }

    private async Task<string?> AlertState(string alert)
    {
        JsonElement alerts = (await Get("/api/v1/alerts")).GetProperty("alerts");
        return alerts.EnumerateArray()
            .Where(a => a.GetProperty("labels").GetProperty("alertname").GetString() == alert)
            .Select(a => a.GetProperty("state").GetString())
            .FirstOrDefault();
    }

    // Conditions that follow scrapes and evaluations every second (or a job); the deadline is generous for a loaded machine.
    private static async Task Until(Func<Task<bool>> condition, string what, TimeSpan? deadline = null)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = deadline ?? TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"not within {limit.TotalSeconds} s: {what}");
            }
            await Task.Delay(500);
        }
    }

    public void Dispose()
    {
        if (_prometheus is { HasExited: false })
        {
            _prometheus.Kill();
            _prometheus.WaitForExit();
        }
        _prometheus?.Dispose();
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            owned.Dispose();
        }
        _http.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
