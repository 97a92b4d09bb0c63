using MarketIntel.Training.Drift;

namespace MarketIntel.Training.Tests.Drift;

/// <summary>Reference bins from reference rows, and the profile's JSON.</summary>
public sealed class ReferenceProfileTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(20)]
    [InlineData(254)]
    public void Quantile_bins_of_distinct_values_hold_an_equal_share_each_within_one_value(int bins)
    {
        float[] values = DriftWindowTests.Values(new Random(bins), 10_007, 0.05);
        FeatureReference reference = ProfileBuilder.Reference("f", values, bins);
        int present = values.Count(v => !float.IsNaN(v));
        Assert.Equal(bins, reference.Bins);
        Assert.Equal(present, reference.Present);
        Assert.Equal(values.Length - present, reference.Missing);
        Assert.All(reference.Counts, c => Assert.InRange(c, present / bins - 1, present / bins + 1));
        Assert.Equal(values.Where(v => !float.IsNaN(v)).Min(), reference.Min);
        Assert.Equal(values.Where(v => !float.IsNaN(v)).Max(), reference.Max);
        AssertWellFormed(reference);
    }

    [Fact]
    public void Ties_share_a_cut_so_edges_stay_strictly_ascending_and_no_bin_is_empty()
    {
        var random = new Random(3);
        // Mostly zeros, a few repeated levels, a long tail: many quantiles land on the same value.
        float[] values = [.. Enumerable.Range(0, 5000).Select(i => random.Next(10) switch
        {
            < 6 => 0f,
            6 => 1f,
            7 => 1f,
            8 => 2.5f,
            _ => (float)Math.Exp(DriftWindowTests.Normal(random)),
        })];
        FeatureReference reference = ProfileBuilder.Reference("f", values, 20);
        Assert.InRange(reference.Bins, 3, 19);
        AssertWellFormed(reference);
        for (int b = 0; b < reference.Bins; b++)
        {
            float low = b == 0 ? float.NegativeInfinity : reference.Edges[b - 1], high = b == reference.Bins - 1 ? float.PositiveInfinity : reference.Edges[b];
            Assert.Equal(values.Count(v => v >= low && v < high), reference.Counts[b]);
        }
        Assert.Contains(1f, reference.Edges);
        Assert.Contains(2.5f, reference.Edges);
    }

    [Fact]
    public void One_distinct_value_makes_one_bin_and_all_missing_makes_a_reference_of_no_values()
    {
        FeatureReference constant = ProfileBuilder.Reference("c", [2f, float.NaN, 2f, 2f]);
        Assert.Equal((1, 3L, 1L, 2f, 2f), (constant.Bins, constant.Present, constant.Missing, constant.Min, constant.Max));
        Assert.Equal(2.0, constant.Center(0));

        FeatureReference none = ProfileBuilder.Reference("m", [float.NaN, float.NaN]);
        Assert.Equal((1, 0L, 2L), (none.Bins, none.Present, none.Missing));
        Assert.True(float.IsNaN(none.Min) && float.IsNaN(none.Max));
        Assert.Equal(1, none.MissingRate);
        Assert.True(double.IsNaN(ProfileBuilder.Reference("e", []).MissingRate));

        Assert.Contains("finite or missing", Assert.Throws<ArgumentException>(() => ProfileBuilder.Reference("x", [1f, float.PositiveInfinity])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => ProfileBuilder.Reference("x", [1f], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProfileBuilder.Reference("x", [1f], FeatureReference.MaxBins + 1));
    }

    [Fact]
    public void A_profile_survives_its_json_exactly_with_and_without_a_prediction()
    {
        var random = new Random(11);
        string[] names = ["sma_10", "rsi_14", "bbpctb_10_1.5"];
        float[][] columns = [.. names.Select(_ => DriftWindowTests.Values(random, 3000, 0.1))];
        columns[2] = [.. columns[2].Select(v => float.IsNaN(v) ? v : MathF.Round(v * 3) / 3)];   // ties
        float[] predictions = [.. Enumerable.Range(0, 3000).Select(_ => (float)random.NextDouble())];
        foreach (ReferenceProfile profile in new[]
        {
            ProfileBuilder.Build(names, columns, predictions, "training rows"),
            ProfileBuilder.Build(names, columns, null, "bars 2024-01-01..2024-06-30", bins: 7),
        })
        {
            ReferenceProfile back = ReferenceProfile.Parse(profile.ToJson());
            Assert.Equal(profile.ToJson(), back.ToJson());
            Assert.Equal((profile.Rows, profile.Source), (back.Rows, back.Source));
            Assert.Equal(profile.Prediction is null, back.Prediction is null);
            foreach ((FeatureReference a, FeatureReference b) in profile.Features.Zip(back.Features).Concat(profile.Prediction is null ? [] : [(profile.Prediction, back.Prediction!)]))
            {
                Assert.Equal(a.Name, b.Name);
                Assert.Equal(a.Edges, b.Edges);
                Assert.Equal(a.Counts, b.Counts);
                Assert.Equal((a.Missing, a.Min, a.Max), (b.Missing, b.Min, b.Max));
            }
        }
        var empty = new ReferenceProfile([ProfileBuilder.Reference("gone", [float.NaN])], null, 1, "rows");
        Assert.Contains("\"min\":null", empty.ToJson(), StringComparison.Ordinal);
        Assert.Equal(0, ReferenceProfile.Parse(empty.ToJson()).Features[0].Present);
    }

    [Theory]
    [InlineData("{", "profile: not valid JSON")]
    [InlineData("[]", "profile: must be a JSON object")]
    [InlineData("""{"source":"s","features":[]}""", "profile: has no 'rows'")]
    [InlineData("""{"rows":-1,"source":"s","features":[]}""", "profile.rows: must be a whole number")]
    [InlineData("""{"rows":1,"source":2,"features":[]}""", "profile.source: must be a string")]
    [InlineData("""{"rows":1,"source":"s","features":{}}""", "profile.features: must be an array")]
    [InlineData("""{"rows":1,"source":"s","features":[F,{"name":"g","edges":[],"counts":[1],"missing":0,"min":0,"max":0},{"name":"c","edges":[0,1,2,1.5],"counts":[1,1,1,1,1],"missing":0,"min":0,"max":3}]}""", "profile.features[2].edges[3]: 1.5 must be finite and above the edge before it")]
    [InlineData("""{"rows":1,"source":"s","features":[{"name":"a","edges":[0],"counts":[1],"missing":0,"min":0,"max":3}]}""", "profile.features[0].counts: 1 edges need 2 counts")]
    [InlineData("""{"rows":1,"source":"s","features":[{"name":"a","edges":[0],"counts":[1,-4],"missing":0,"min":0,"max":3}]}""", "profile.features[0].counts[1]: must be a whole number of 0 or more, not -4")]
    [InlineData("""{"rows":1,"source":"s","features":[{"name":"a","edges":[0,"x"],"counts":[1,1,1],"missing":0,"min":0,"max":3}]}""", "profile.features[0].edges[1]: must be a finite number, not \"x\"")]
    [InlineData("""{"rows":1,"source":"s","features":[{"name":"a","edges":[0],"counts":[1,1],"missing":0,"min":1,"max":3}]}""", "profile.features[0].min: 1 and max 3 must be finite and enclose the edges")]
    [InlineData("""{"rows":1,"source":"s","features":[{"name":"","edges":[],"counts":[1],"missing":0,"min":0,"max":0}]}""", "profile.features[0].name: must be a non-empty string")]
    [InlineData("""{"rows":1,"source":"s","features":[F,F]}""", "profile.features[1].name: 'f' appears twice (also features[0])")]
    [InlineData("""{"rows":1,"source":"s","features":[],"prediction":{"name":"prediction","edges":[],"counts":[1]}}""", "profile.prediction: has no 'missing'")]
    public void Bad_profile_json_is_refused_with_the_place_at_fault(string json, string message)
    {
        json = json.Replace("F", """{"name":"f","edges":[],"counts":[1],"missing":0,"min":0,"max":0}""", StringComparison.Ordinal);
        ProfileFormatException e = Assert.Throws<ProfileFormatException>(() => ReferenceProfile.Parse(json));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    private static void AssertWellFormed(FeatureReference reference)
    {
        for (int i = 1; i < reference.Edges.Length; i++)
        {
            Assert.True(reference.Edges[i] > reference.Edges[i - 1], $"edges[{i}] = {reference.Edges[i]} is not above {reference.Edges[i - 1]}");
        }
        Assert.All(reference.Counts, c => Assert.True(c > 0, "an empty bin"));
        Assert.Equal(reference.Bins - 1, reference.Edges.Length);
    }
}
