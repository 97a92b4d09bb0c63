using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Xml.Linq;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Inference;
using MarketIntel.CommandLine;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary><c>marketintel backtest</c>: walk-forward scores with significance, baselines, and a report with its plots.</summary>
public sealed class BacktestCommandTests : CliTestBase
{
    [Fact]
    public void Walk_forward_over_ttrc_scores_every_test_row_against_baselines_and_writes_the_report()
    {
        string report = Path.Combine(Dir, "report");
        var (code, stdout, stderr) = Run("backtest", "--data", RepoPaths.Data("ttrc-daily.csv"), "--spec", "rsi_14,roc_10,zscore_20,bbpctb_20_2,lag_1_rsi_14",
            "--horizon", "5", "--train-rows", "2000", "--test-rows", "1000", "--rounds", "20", "--cost-bps", "2", "--report", report);
        Assert.True(code == 0, stderr);
        // 5550 bars: features from bar 19 (bbpctb_20_2), labels up to bar 5544, so 5526 rows; the first test row
        // comes after 2000 training rows and a gap of 4 (horizon - 1).
        Assert.Contains("5526 rows (5 features, label: up over the next 5 bars), 4 expanding walk-forward folds, 3522 test rows", stdout, StringComparison.Ordinal);
        // Each 5-bar signal is held 5 bars: from the first test row's bar to 4 bars past the last one's.
        Assert.Contains("trades long/short holding each signal 5 bars (overlapping positions of 1/5 each, costs on the change of their sum), 3526 bars traded, 2 bps per unit traded",
            stdout, StringComparison.Ordinal);
        string[] lines = stdout.Split('\n');
        foreach (string name in new[] { "model", "always long (buy and hold)", "previous-bar direction" })
        {
            string row = lines.Single(l => l.StartsWith($"| {name} |", StringComparison.Ordinal));
            string[] cells = row.Split('|', StringSplitOptions.TrimEntries);
            double p = double.Parse(cells[3], CultureInfo.InvariantCulture);
            Assert.InRange(p, 0, 1);
        }
        string md = File.ReadAllText(Path.Combine(report, "report.md"));
        Assert.Contains("| model |", md, StringComparison.Ordinal);
        Assert.Contains("![equity](equity.svg)", md, StringComparison.Ordinal);
        // The plots are well-formed SVG. Equity: a legend for the three strategies and the line at 1.0, labelled axes,
        // and date ticks inside the traded range (the first test row's bar in 1993 to 2006, with the axis margin).
        string[] equity = Texts(Path.Combine(report, "equity.svg"));
        Assert.Subset(equity.ToHashSet(), new HashSet<string> { "model", "always long (buy and hold)", "previous-bar direction", "1.0 (the money put in)", "equity of 1", "date (close of the bar traded)" });
        string[] dateTicks = equity.Where(t => DateTime.TryParseExact(t, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)).ToArray();
        Assert.True(dateTicks.Length >= 3, string.Join(" ", equity));
        Assert.All(dateTicks, t => Assert.InRange(string.CompareOrdinal(t, "1992"), 0, int.MaxValue));
        Assert.All(dateTicks, t => Assert.InRange(string.CompareOrdinal(t, "2007"), int.MinValue, -1));
        // Calibration: labelled axes, the diagonal and the points in the legend.
        string[] calibration = Texts(Path.Combine(report, "calibration.svg"));
        Assert.Subset(calibration.ToHashSet(), new HashSet<string> { "predicted p(up)", "share of rows that went up", "calibrated (share up = p)",
            "a tenth of p(up): its rows' mean p and share up (size and label: rows)" });
    }

    [Fact]
    public async Task Save_model_writes_the_model_trained_on_all_rows_with_its_lineage_and_serve_answers_with_it()
    {
        const string spec = "rsi_14,roc_10";
        string data = RepoPaths.Data("msft-daily.csv");
        string model = Path.Combine(Dir, "msft-up3.json");
        var (code, stdout, stderr) = Run("backtest", "--data", data, "--spec", spec, "--horizon", "3", "--train-rows", "150", "--test-rows", "40",
            "--rounds", "15", "--save-model", model, "--asset", "MSFT", "--replaces", "v0", "--report", Path.Combine(Dir, "report"));
        Assert.True(code == 0, stderr);
        // 249 bars: rsi_14 from bar 14, labels up to bar 245 (3 bars before the last), so 232 rows, all of them trained on.
        string[] dates = File.ReadLines(data).Skip(1).Select(l => l[..l.IndexOf(',', StringComparison.Ordinal)]).ToArray();
        Assert.Contains($"saved the model trained on all 232 rows ({dates[14]} to {dates[245]}) to {model}, its lineage to {model}.lineage.json", stdout, StringComparison.Ordinal);

        using Model loaded = Model.LoadFile(model);
        Assert.Equal(["rsi_14", "roc_10"], loaded.FeatureNames);
        using JsonDocument lineage = JsonDocument.Parse(File.ReadAllText(model + ".lineage.json"));
        JsonElement root = lineage.RootElement;
        Assert.Equal("marketintel backtest", root.GetProperty("tool").GetString());
        Assert.StartsWith("1.0.0", root.GetProperty("toolVersion").GetString(), StringComparison.Ordinal);
        Assert.Equal(spec, root.GetProperty("spec").GetString());
        Assert.Equal("up_3", root.GetProperty("label").GetProperty("name").GetString());
        Assert.Equal(3, root.GetProperty("label").GetProperty("horizon").GetInt32());
        JsonElement range = root.GetProperty("data");
        Assert.Equal(data, range.GetProperty("file").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(data))), range.GetProperty("sha256").GetString());
        Assert.Equal(dates[14], range.GetProperty("firstKey").GetString());
        Assert.Equal(dates[245], range.GetProperty("lastKey").GetString());
        Assert.Equal(232, range.GetProperty("rows").GetInt32());
        Assert.Equal(15, root.GetProperty("parameters").GetProperty("rounds").GetInt32());
        Assert.Equal(3, root.GetProperty("parameters").GetProperty("maxDepth").GetInt32());
        string modelSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(model)));
        Assert.Equal(modelSha, root.GetProperty("modelSha256").GetString());
        Assert.Equal(["MSFT"], range.GetProperty("assets").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("v0", root.GetProperty("replaces").GetString());
        // The walk-forward's scores of the model, as the report's first row shows them.
        JsonElement validation = root.GetProperty("validation");
        Assert.InRange(validation.GetProperty("accuracy").GetDouble(), 0, 1);
        string auc = validation.GetProperty("auc").GetDouble().ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
        string logLoss = validation.GetProperty("logLoss").GetDouble().ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"| {auc} | {logLoss} |", stdout, StringComparison.Ordinal);
        Assert.InRange(validation.GetProperty("testRows").GetInt32(), 1, 232 - 150);
        Assert.InRange(validation.GetProperty("folds").GetInt32(), 1, 3);
        // The reference profile of the 232 training rows: one reference per model feature, in its order, each
        // counting every row (present or missing), and the saved model's predictions on them.
        var profile = MarketIntel.Training.Drift.ReferenceProfile.Read(root.GetProperty("profile"), "lineage.profile");
        Assert.Equal(["rsi_14", "roc_10"], profile.Features.Select(f => f.Name));
        Assert.All(profile.Features, f => Assert.Equal(232, f.Present + f.Missing));
        Assert.All(profile.Features, f => Assert.InRange(f.Bins, 10, 20));
        Assert.Equal(232, profile.Prediction!.Present);
        Assert.InRange(profile.Prediction.Min, 0, 1);
        Assert.Equal($"training rows of {data}", profile.Source);

        // Served as `serve --model FILE --features SPEC` serves it: registered under the file's name and the start of
        // its SHA-256, and its answer after the last bar is the saved model's offline prediction for that bar.
        await using var grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["MarketIntel:Models:0"] = model,
            ["Grid:Features"] = spec,
        });
        var ingest = Run("ingest", "--target", grid.GrpcTarget, "--asset", "MSFT", "--file", data);
        Assert.True(ingest.Code == 0, ingest.Err);
        using var http = new HttpClient();
        using JsonDocument served = JsonDocument.Parse(await http.GetStringAsync(new Uri(grid.Http("/predict/MSFT"))));
        Assert.Equal("msft-up3", served.RootElement.GetProperty("model").GetString());
        Assert.Equal(modelSha[..12], served.RootElement.GetProperty("version").GetString());
        double[][] columns = FeatureSet.Parse(spec).Compute(BarCsv.Read(data, null));
        float[] lastBar = columns.Select(c => (float)c[^1]).ToArray();
        var offline = new float[1];
        loaded.Predict(lastBar, offline);
        Assert.InRange(offline[0], 0.01f, 0.99f);   // a probability, not a missing value
        Assert.Equal(offline[0], served.RootElement.GetProperty("prediction").GetSingle(), 6);

        // Its lineage came with it (MODEL.lineage.json beside the file), so its profile is the one drift measures
        // against: MSFT's 249 bars are under a window of 500, measured but not judged yet.
        using JsonDocument registeredProfile = JsonDocument.Parse(await http.GetStringAsync(new Uri(grid.Http($"/models/msft-up3/versions/{modelSha[..12]}/profile"))));
        Assert.Equal($"training rows of {data}", registeredProfile.RootElement.GetProperty("source").GetString());
        using JsonDocument drift = JsonDocument.Parse(await http.GetStringAsync(new Uri(grid.Http("/drift/MSFT"))));
        Assert.Equal("warming-up", drift.RootElement.GetProperty("status").GetString());
        Assert.Equal(["rsi_14", "roc_10"], drift.RootElement.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("name").GetString()));
    }

    [Fact]
    public void Save_model_into_a_missing_folder_is_refused_before_the_run()
    {
        string model = Path.Combine(Dir, "no-such-folder", "m.json");
        var (code, _, stderr) = Run("backtest", "--data", RepoPaths.Data("msft-daily.csv"), "--spec", "rsi_14", "--horizon", "1", "--save-model", model,
            "--report", Path.Combine(Dir, "r"));
        Assert.Equal(2, code);
        Assert.Contains($"option '--save-model': folder '{Path.GetDirectoryName(model)}' does not exist", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Dir, "r")));
    }

    [Fact]
    public void Equity_keys_that_are_not_dates_put_bar_numbers_on_the_x_axis()
    {
        // Day numbers (a close-only file keyed by day) are no dates: the axis counts bars rather than inventing 1970.
        string svg = Path.Combine(Dir, "equity.svg");
        File.WriteAllText(svg, Commands.BacktestPlots.Equity("t", ["7301", "7302", "7303", "7304"], [("model", [1.0, 1.1, 1.05, 1.2])]));
        string[] texts = Texts(svg);
        Assert.Contains("bar", texts);
        Assert.DoesNotContain(texts, t => t.StartsWith("19", StringComparison.Ordinal) || t.Contains('-', StringComparison.Ordinal));
    }

    [Fact]
    public void On_a_log_scale_equal_ratios_are_equal_heights_and_a_wiped_out_equity_is_refused()
    {
        string svg = Path.Combine(Dir, "equity.svg");
        File.WriteAllText(svg, Commands.BacktestPlots.Equity("t", ["2020-01-01", "2020-01-02", "2020-01-03"], [("model", [1.0, 10.0, 100.0])], logScale: true));
        XElement line = XDocument.Load(svg).Descendants().Single(e => e.Name.LocalName == "path" && (string?)e.Attribute("stroke") == "#1F77B4" && ((string?)e.Attribute("d"))!.Count(c => c == 'L') == 2);
        // Three points on a straight line: 1 -> 10 rises as far as 10 -> 100.
        double[] ys = System.Text.RegularExpressions.Regex.Matches((string)line.Attribute("d")!, @"[ML][\d.]+ ([\d.]+)").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(ys[0] - ys[1], ys[1] - ys[2], 2);
        Assert.Contains("equity of 1 (log scale)", Texts(svg));
        var e = Assert.Throws<UsageException>(() => Commands.BacktestPlots.Equity("t", ["1", "2"], [("model", [1.0, 0.0])], logScale: true));
        Assert.Contains("the equity of 'model' falls to 0 or below", e.Message, StringComparison.Ordinal);
    }

    private static string[] Texts(string svg) => XDocument.Load(svg).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToArray();

    [Theory]
    [InlineData("--horizon|0", "option '--horizon': '0' is not a whole number")]
    [InlineData("--horizon|1|--train-rows|9000", "leave no test window after 9000 training rows")]
    [InlineData("--horizon|1|--windows|sideways", "option '--windows': 'sideways' is not expanding or rolling")]
    [InlineData("--horizon|1|--cost-bps|-1", "option '--cost-bps': '-1' is not a number of at least 0")]
    [InlineData("--horizon|1|--eta|2", "eta 2 must be above 0 and at most 1")]
    public void Bad_options_are_refused_naming_them(string args, string message)
    {
        var (code, _, stderr) = Run(["backtest", "--data", RepoPaths.Data("ttrc-daily.csv"), "--spec", "rsi_14", .. args.Split('|'), "--report", Path.Combine(Dir, "r")]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Dir, "r")));
    }
}
