using System.Globalization;
using System.Xml.Linq;
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
        // The plots are well-formed SVG: three equity curves, and calibration points.
        XDocument equity = XDocument.Load(Path.Combine(report, "equity.svg"));
        Assert.Equal(3, equity.Descendants().Count(e => e.Name.LocalName == "polyline"));
        XDocument calibration = XDocument.Load(Path.Combine(report, "calibration.svg"));
        Assert.Contains(calibration.Descendants(), e => e.Name.LocalName == "circle");
    }

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
