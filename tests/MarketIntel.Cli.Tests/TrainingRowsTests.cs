using System.Globalization;
using System.Text.Json;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// Bars to training rows to a model to predictions in the project's own commands: <c>features --label</c>, then
/// <c>train</c> and <c>predict</c> reading that file as it is (key column and labels included), and the same model
/// served by the grid giving the prediction <c>predict</c> wrote for the last bar.
/// </summary>
public sealed class TrainingRowsTests : CliTestBase
{
    private const string Spec = "sma_20,rsi_14,bbpctb_20_2,macd_12_26_9,atr_14,roc_10";

    private static string Ttrc => RepoPaths.Data("ttrc-daily.csv");

    private static double Cell(string text) => text.Length == 0 ? double.NaN : double.Parse(text, CultureInfo.InvariantCulture);

    private string Features(params string[] labels)
    {
        string rows = Path.Combine(Dir, "T.csv");
        var (code, stdout, err) = Run(["features", "--input", Ttrc, "--spec", Spec, .. labels.SelectMany(l => new[] { "--label", l }), "--output", rows]);
        Assert.True(code == 0, err);
        Assert.Contains($"+ {labels.Length} label", stdout, StringComparison.Ordinal);
        return rows;
    }

    [Fact]
    public void Features_labels_are_the_direction_and_log_return_k_bars_ahead_and_empty_where_that_bar_is_missing()
    {
        string[] lines = File.ReadAllLines(Features("up_5", "logret_3"));
        double[] close = BarCsv.Read(Ttrc, null).Close;
        Assert.Equal("timestamp," + Spec + ",up_5,logret_3", lines[0]);
        Assert.Equal(close.Length + 1, lines.Length);
        for (int t = 0; t < close.Length; t++)
        {
            string[] cells = lines[t + 1].Split(',');
            double up = Cell(cells[^2]), logret = Cell(cells[^1]);
            if (t + 5 < close.Length)
            {
                Assert.Equal(close[t + 5] > close[t] ? 1 : 0, up);
            }
            else
            {
                Assert.True(double.IsNaN(up), $"row {t + 1}: up_5 should be empty, is {up}");
            }
            if (t + 3 < close.Length)
            {
                Assert.Equal(Math.Log(close[t + 3] / close[t]), logret, 12);
            }
            else
            {
                Assert.True(double.IsNaN(logret), $"row {t + 1}: logret_3 should be empty, is {logret}");
            }
        }
    }

    [Theory]
    [InlineData("up_0", "label 'up_0': expected up_K or logret_K")]
    [InlineData("down_5", "label 'down_5': expected up_K or logret_K")]
    [InlineData("logret_x", "label 'logret_x': expected up_K or logret_K")]
    public void A_bad_label_gives_exit_code_2_one_line_and_no_output(string label, string message)
    {
        string output = Path.Combine(Dir, "T.csv");
        var (code, _, err) = Run("features", "--input", Ttrc, "--spec", Spec, "--label", label, "--output", output);
        Assert.Equal(2, code);
        Assert.StartsWith("marketintel features: " + message, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("sma_20", "up_5", "--label up_5: given twice")]
    [InlineData("sma_20,logret_5", "logret_5", "--label logret_5: the spec has a feature of that name")]
    public void A_label_column_that_would_be_written_twice_is_a_usage_error(string spec, string label, string message)
    {
        string output = Path.Combine(Dir, "T.csv");
        var (code, _, err) = Run("features", "--input", Ttrc, "--spec", spec, "--label", "up_5", "--label", label, "--output", output);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void The_past_log_return_feature_stays_a_feature_though_it_is_named_like_a_label()
    {
        string rows = Path.Combine(Dir, "T.csv"), model = Path.Combine(Dir, "M.json");
        Assert.Equal(0, Run("features", "--input", Ttrc, "--spec", "rsi_14,logret_5", "--label", "up_5", "--output", rows).Code);
        var (code, stdout, err) = Run("train", "--input", rows, "--label", "up_5", "--rounds", "5", "--output", model);
        Assert.True(code == 0, err);
        Assert.Contains("x 2 features", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("left out", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_leaves_out_the_key_and_other_labels_and_skips_rows_without_a_label()
    {
        string rows = Features("up_5", "logret_5");
        string model = Path.Combine(Dir, "M.json");
        var (code, stdout, err) = Run("train", "--input", rows, "--label", "up_5", "--rounds", "5", "--output", model);
        Assert.True(code == 0, err);
        int bars = BarCsv.Read(Ttrc, null).Count;
        Assert.Contains($"on {bars - 5} rows x 6 features", stdout, StringComparison.Ordinal);
        Assert.Contains("skipped 5 rows with no up_5", stdout, StringComparison.Ordinal);
        Assert.Contains("left out the other label columns logret_5", stdout, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(File.ReadAllText(model));
        string[] names = json.RootElement.GetProperty("learner").GetProperty("feature_names").EnumerateArray().Select(n => n.GetString()!).ToArray();
        Assert.Equal(Spec.Split(','), names);
    }

    [Fact]
    public void Predict_writes_the_key_first_and_skip_incomplete_leaves_out_exactly_the_warm_up_rows()
    {
        string rows = Features("up_5");
        string model = Path.Combine(Dir, "M.json");
        Assert.Equal(0, Run("train", "--input", rows, "--label", "up_5", "--rounds", "10", "--output", model).Code);
        string[] input = File.ReadAllLines(rows);

        string all = Path.Combine(Dir, "P.csv");
        var (code, _, err) = Run("predict", "--model", model, "--input", rows, "--output", all);
        Assert.True(code == 0, err);
        string[] predicted = File.ReadAllLines(all);
        Assert.Equal("timestamp,prediction", predicted[0]);
        Assert.Equal(input.Select(l => l.Split(',')[0]), predicted.Select(l => l.Split(',')[0]));

        string complete = Path.Combine(Dir, "P-complete.csv");
        (code, string stdout, err) = Run("predict", "--model", model, "--input", rows, "--output", complete, "--skip-incomplete");
        Assert.True(code == 0, err);
        // The features part of each row (not the label, which is empty at the end but is no model input).
        string[] full = input.Skip(1).Where(l => l.Split(',')[1..^1].All(c => c.Length > 0)).Select(l => l.Split(',')[0]).ToArray();
        string[] kept = File.ReadAllLines(complete).Skip(1).ToArray();
        Assert.Equal(full, kept.Select(l => l.Split(',')[0]));
        Assert.Contains($"skipped {input.Length - 1 - full.Length} rows with a missing model input", stdout, StringComparison.Ordinal);
        // A row kept gets the prediction it gets without the option.
        var byKey = predicted.Skip(1).ToDictionary(l => l.Split(',')[0]);
        Assert.All(kept, l => Assert.Equal(byKey[l.Split(',')[0]], l));
    }

    [Fact]
    public void Skip_incomplete_with_every_row_incomplete_writes_the_header_alone()
    {
        string input = Path.Combine(Dir, "x.csv"), output = Path.Combine(Dir, "P.csv");
        File.WriteAllLines(input, ["x0,x1,x2,x3,x4,x5,x6,x7", ",1,1,1,1,1,1,1", "1,1,1,1,1,1,1,"]);
        var (code, stdout, err) = Run("predict", "--model", RepoPaths.Fixture("models", "onnx-mlp-8.onnx"), "--input", input, "--output", output, "--skip-incomplete");
        Assert.True(code == 0, err);
        Assert.Contains("wrote 0 predictions (prediction) to", stdout, StringComparison.Ordinal);
        Assert.Contains("skipped 2 rows with a missing model input", stdout, StringComparison.Ordinal);
        Assert.Equal(["prediction"], File.ReadAllLines(output));
    }

    [Fact]
    public void A_numeric_key_is_used_when_named_with_key_and_an_unknown_key_is_an_error()
    {
        string model = Path.Combine(Dir, "M.json");
        string train = Path.Combine(Dir, "train.csv");
        File.WriteAllLines(train, ["id,x,y", .. Enumerable.Range(0, 200).Select(i => $"{1000 + i},{i % 7},{(i % 7 > 3 ? 1 : 0)}")]);
        var (code, stdout, err) = Run("train", "--input", train, "--label", "y", "--key", "id", "--rounds", "5", "--output", model);
        Assert.True(code == 0, err);
        Assert.Contains("x 1 features", stdout, StringComparison.Ordinal);

        string output = Path.Combine(Dir, "P.csv");
        (code, _, err) = Run("predict", "--model", model, "--input", train, "--key", "id", "--output", output);
        Assert.True(code == 0, err);
        string[] lines = File.ReadAllLines(output);
        Assert.Equal("id,prediction", lines[0]);
        Assert.Equal("1000", lines[1].Split(',')[0]);

        (code, _, err) = Run("predict", "--model", model, "--input", train, "--key", "symbol", "--output", Path.Combine(Dir, "Q.csv"));
        Assert.Equal(2, code);
        Assert.Contains($"{train}:1: no column 'symbol' for --key (columns: id, x, y)", err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Dir, "Q.csv")));
    }

    [Theory]
    [InlineData("features", "--label")]
    [InlineData("train", "--key")]
    [InlineData("predict", "--key")]
    [InlineData("predict", "--skip-incomplete")]
    public void Help_names_the_new_options(string command, string option)
    {
        var (code, stdout, _) = Run(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains(option, stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Features_train_predict_work_as_written_and_the_served_model_gives_the_same_last_prediction()
    {
        string rows = Path.Combine(Dir, "T.csv"), model = Path.Combine(Dir, "M.json"), predictions = Path.Combine(Dir, "P.csv");
        Assert.Equal(0, Run("features", "--input", Ttrc, "--spec", Spec, "--label", "up_5", "--output", rows).Code);
        Assert.Equal(0, Run("train", "--input", rows, "--label", "up_5", "--output", model).Code);
        var (code, _, err) = Run("predict", "--model", model, "--input", rows, "--output", predictions);
        Assert.True(code == 0, err);
        string[] last = File.ReadAllLines(predictions)[^1].Split(',');
        BarSeries bars = BarCsv.Read(Ttrc, null);
        Assert.Equal(bars.Timestamps[^1], last[0]);
        float offline = float.Parse(last[1], CultureInfo.InvariantCulture);

        await using var grid = await InProcessGrid.StartAsync(new Dictionary<string, string?> { ["MarketIntel:Models:0"] = model });
        var ingest = await Task.Run(() => Run("ingest", "--target", grid.GrpcTarget, "--asset", "TTRC", "--file", Ttrc));
        Assert.True(ingest.Code == 0, ingest.Err);
        using var channel = grid.Channel();
        Prediction served = await new Grid.GridClient(channel).PredictAsync(new PredictRequest { Asset = "TTRC" });
        Assert.True(Math.Abs(served.Value - offline) <= 1e-5f, $"served {served.Value}, predict wrote {offline} for {last[0]}");
        // Not a constant model: the warm-up row's prediction differs, so equality above says something.
        Assert.NotEqual(File.ReadAllLines(predictions)[1].Split(',')[1], last[1]);
    }
}
