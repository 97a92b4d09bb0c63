using System.Diagnostics;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary>`marketintel features` as a user runs it: a real process, real files, exit codes and stderr.</summary>
public sealed class FeaturesCommandTests : CliTestBase
{
    private string WriteBars(string text)
    {
        string path = Path.Combine(Dir, "bars.csv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void The_output_has_the_timestamp_then_the_spec_names_in_order_and_one_row_per_bar()
    {
        string output = Path.Combine(Dir, "out.csv");
        var (code, _, err) = Run("features", "--input", RepoPaths.Data("msft-daily.csv"), "--spec", "rsi_14,sma_7,bbpctb_10_1.5", "--output", output);
        Assert.True(code == 0, err);
        string[] lines = File.ReadAllLines(output);
        Assert.Equal("timestamp,rsi_14,sma_7,bbpctb_10_1.5", lines[0]);
        Assert.Equal(250, lines.Length);
        Assert.Equal("2000-09-27,,,", lines[1]);

        // The file holds the batch values at round-trip precision.
        var bars = BarCsv.Read(RepoPaths.Data("msft-daily.csv"));
        double[] sma = FeatureDefinition.Parse("sma_7").Compute(bars);
        string[] last = lines[^1].Split(',');
        Assert.Equal(bars.Timestamps[^1], last[0]);
        Assert.Equal(sma[^1], double.Parse(last[2], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("t,open,high,low,close,volume\n1,1,2,0.5,1.5,100\n2,1,2,0.5,x,100\n", "sma_2", "bars.csv:3:5: close: 'x' is not a number")]
    [InlineData("t,open,high,low,close,volume\n1,1,2,0.5,1.5,100\n2,1,1,2,1.5,100\n", "sma_2", "bars.csv:3:3: high 1 is below low 2")]
    [InlineData("t,open,high,low,close,volume\n1,1,2,0.5,1.5,100\n2,1,2,0.5\n", "sma_2", "bars.csv:3:5: short row")]
    [InlineData("t,open,high,low,close,volume\n1,1,2,-0.5,1.5,100\n", "sma_2", "bars.csv:2:4: low -0.5 must be positive")]
    [InlineData("t,open,high,low,volume\n1,1,2,0.5,100\n", "sma_2", "bars.csv:1: no close column")]
    [InlineData("t,close\n1,1.5\n", "sma_0", "feature 'sma_0': parameter N=0 must be between 1")]
    [InlineData("t,close\n1,1.5\n", "macd_26_12_9", "fast period F=26 must be less than slow period S=12")]
    [InlineData("t,close\n1,1.5\n", "sma_2,bogus_3", "feature 'bogus_3': unknown indicator 'bogus'")]
    public void Bad_input_gives_one_line_on_stderr_exit_code_2_and_no_output_file(string bars, string spec, string message)
    {
        string input = WriteBars(bars);
        string output = Path.Combine(Dir, "out.csv");
        var (code, _, err) = Run("features", "--input", input, "--spec", spec, "--output", output);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.False(File.Exists(output));
        Assert.Single(Directory.GetFiles(Dir)); // only the input: no temporary left behind either
    }

    [Fact]
    public void A_missing_input_file_or_option_is_an_error_naming_it()
    {
        string output = Path.Combine(Dir, "out.csv");
        var missing = Run("features", "--input", Path.Combine(Dir, "nope.csv"), "--spec", "sma_2", "--output", output);
        Assert.Equal(2, missing.Code);
        Assert.Contains("nope.csv: no such file", missing.Err, StringComparison.Ordinal);
        var noSpec = Run("features", "--input", "x.csv", "--output", output);
        Assert.Equal(2, noSpec.Code);
        Assert.Contains("missing required option '--spec'", noSpec.Err, StringComparison.Ordinal);
        var unknown = Run("features", "--input", "x.csv", "--spec", "sma_2", "--output", output, "--fast");
        Assert.Contains("unknown option '--fast'", unknown.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void A_failed_run_leaves_an_existing_output_file_untouched()
    {
        string output = Path.Combine(Dir, "out.csv");
        File.WriteAllText(output, "previous results\n");
        var (code, _, _) = Run("features", "--input", WriteBars("t,close\n1,abc\n"), "--spec", "sma_2", "--output", output);
        Assert.Equal(2, code);
        Assert.Equal("previous results\n", File.ReadAllText(output));
    }

    [Fact]
    public void The_built_command_runs_as_a_process_and_exits_2_on_bad_input()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "marketintel.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in new[] { dll, "features", "--input", WriteBars("t,close\n1,1.5\n2,-1\n"), "--spec", "sma_2", "--output", Path.Combine(Dir, "o.csv") })
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        string err = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(2, process.ExitCode);
        Assert.Equal($"marketintel features: {Path.Combine(Dir, "bars.csv")}:3:2: close -1 must be positive\n", err);
    }
}
