using System.Text.Json;
using MarketIntel.Features;
using MarketIntel.Training.Drift;

namespace MarketIntel.Training.Tests;

/// <summary>Row-major rows to a reference profile (what train, backtest and the registry's uploads share), and the lineage that carries it.</summary>
public sealed class ProfileRowsTests
{
    [Fact]
    public void Row_major_rows_give_the_profile_of_their_columns()
    {
        var random = new Random(4);
        float[] rows = [.. Enumerable.Range(0, 3 * 50).Select(i => i % 7 == 0 ? float.NaN : (float)random.NextDouble())];
        float[] predictions = [.. Enumerable.Range(0, 50).Select(_ => (float)random.NextDouble())];
        ReferenceProfile profile = ProfileRows.Build(["a", "b", "c"], rows, predictions, "rows", 5);
        float[][] columns = [.. Enumerable.Range(0, 3).Select(f => Enumerable.Range(0, 50).Select(r => rows[r * 3 + f]).ToArray())];
        Assert.Equal(ProfileBuilder.Build(["a", "b", "c"], columns, predictions, "rows", 5).ToJson(), profile.ToJson());
        Assert.Equal(50, profile.Rows);
    }

    [Fact]
    public void Rows_that_are_not_whole_rows_of_the_features_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => ProfileRows.Build(["a", "b"], new float[5], null, "rows"));
        Assert.Equal("profile: 5 values are not whole rows of 2 features", error.Message);
    }

    [Fact]
    public void A_lineage_with_a_profile_writes_it_under_profile_and_one_without_writes_no_such_key()
    {
        string[] days = ["d1", "d2", "d3", "d4", "d5", "d6"];
        Dataset rows = Dataset.Build(BarSeries.FromCloses(days, [10, 11, 12, 13, 12, 11]), FeatureSet.Parse("sma_2"), 1, LabelKind.Direction);
        var lineage = new ModelLineage("test", "1", "sma_2", TrainingRows.Of(rows), "bars.csv", "ab", null, new BoostParameters(), "m.json", "cd");
        ReferenceProfile profile = ProfileRows.Build(rows.FeatureNames, rows.Features, null, "training rows of bars.csv");

        JsonElement With(ModelLineage l)
        {
            var stream = new MemoryStream();
            l.WriteJson(stream);
            return JsonDocument.Parse(stream.ToArray()).RootElement;
        }
        Assert.False(With(lineage).TryGetProperty("profile", out _));
        JsonElement written = With(lineage with { Profile = profile }).GetProperty("profile");
        Assert.Equal(profile.ToJson(), ReferenceProfile.Read(written, "lineage.profile").ToJson());
        Assert.Equal(rows.Rows, written.GetProperty("rows").GetInt32());
    }
}
