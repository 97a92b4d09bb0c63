using System.Text.Json;
using MarketIntel.Features;

namespace MarketIntel.Training.Tests;

/// <summary>The lineage written next to a saved model: label names as the feature-matrix CSV spells them, and the rows' range.</summary>
public sealed class ModelLineageTests
{
    [Fact]
    public void A_log_return_lineage_names_its_label_and_the_keys_of_its_first_and_last_row()
    {
        // Closes on days 1..8; sma_3 is defined from day 3, and a 2-bar label exists up to day 6: rows for days 3..6.
        string[] days = ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"];
        var bars = BarSeries.FromCloses(days, [10, 11, 12, 13, 12, 11, 12, 13]);
        Dataset rows = Dataset.Build(bars, FeatureSet.Parse("sma_3"), 2, LabelKind.LogReturn);
        var lineage = new ModelLineage("test", "1.0.0+abc", "sma_3", TrainingRows.Of(rows), "bars.csv", "ab", CloseColumn: null,
            new BoostParameters { Objective = "reg:squarederror", Rounds = 7 }, "m.json", "cd");
        var stream = new MemoryStream();
        lineage.WriteJson(stream);
        JsonElement root = JsonDocument.Parse(stream.ToArray()).RootElement;
        Assert.Contains("\"toolVersion\": \"1.0.0+abc\"", System.Text.Encoding.UTF8.GetString(stream.ToArray()), StringComparison.Ordinal);
        Assert.Equal("logret_2", root.GetProperty("label").GetProperty("name").GetString());
        Assert.Equal("logReturn", root.GetProperty("label").GetProperty("kind").GetString());
        Assert.Equal("d3", root.GetProperty("data").GetProperty("firstKey").GetString());
        Assert.Equal("d6", root.GetProperty("data").GetProperty("lastKey").GetString());
        Assert.Equal(4, root.GetProperty("data").GetProperty("rows").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("data").GetProperty("close").ValueKind);
        Assert.Equal("reg:squarederror", root.GetProperty("parameters").GetProperty("objective").GetString());
        Assert.Equal(["sma_3"], root.GetProperty("features").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Assets_validation_metrics_and_the_version_replaced_are_written_and_a_missing_metric_is_null()
    {
        var rows = new TrainingRows(["f1", "f2"], new LabelDefinition(LabelKind.Direction, 5), "row 1", "row 9", 9);
        var lineage = new ModelLineage("marketintel train", "1", null, rows, "t.csv", "ab", null, new BoostParameters(), "m.json", "cd")
        {
            Assets = ["MSFT"],
            Validation = new Dictionary<string, double> { ["accuracy"] = 0.55, ["auc"] = double.NaN },
            Replaces = "v1",
        };
        var stream = new MemoryStream();
        lineage.WriteJson(stream);
        JsonElement root = JsonDocument.Parse(stream.ToArray()).RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("spec").ValueKind);
        Assert.Equal("up_5", root.GetProperty("label").GetProperty("name").GetString());
        Assert.Equal(["MSFT"], root.GetProperty("data").GetProperty("assets").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(0.55, root.GetProperty("validation").GetProperty("accuracy").GetDouble());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("validation").GetProperty("auc").ValueKind);
        Assert.Equal("v1", root.GetProperty("replaces").GetString());
    }
}
