using MarketIntel.Features.Io;
using MarketIntel.Inference.Io;

namespace MarketIntel.Inference.Tests;

/// <summary>The key column of a feature matrix: which column it is, kept as written and apart from the values.</summary>
public sealed class FeatureMatrixKeyTests
{
    [Theory]
    [InlineData("timestamp,a\n7305,1\n", "timestamp", "7305")]
    [InlineData("Timestamp,a\n2024-01-02,1\n", "Timestamp", "2024-01-02")]
    [InlineData("symbol,a\nMSFT,1\n", "symbol", "MSFT")]
    public void A_first_column_named_timestamp_or_not_a_number_is_the_key(string csv, string keyName, string key)
    {
        var matrix = FeatureMatrixCsv.Parse(csv, "x.csv");
        Assert.Equal(keyName, matrix.KeyName);
        Assert.Equal([key], matrix.Keys!);
        Assert.Equal(["a"], matrix.Names);
        Assert.Equal([1f], matrix.Values);
    }

    [Fact]
    public void A_first_column_of_numbers_is_a_feature_unless_named_as_the_key()
    {
        var plain = FeatureMatrixCsv.Parse("id,a\n3,1\n", "x.csv");
        Assert.Null(plain.KeyName);
        Assert.Null(plain.Keys);
        Assert.Equal(["id", "a"], plain.Names);

        var keyed = FeatureMatrixCsv.Parse("a,id\n1,3\n2,4\n", "x.csv", "id");
        Assert.Equal("id", keyed.KeyName);
        Assert.Equal(["3", "4"], keyed.Keys!);
        Assert.Equal([1f, 2f], keyed.Values);
    }

    [Fact]
    public void A_non_number_below_a_numeric_first_row_is_named_with_the_way_out()
    {
        var e = Assert.Throws<DataFormatException>(() => FeatureMatrixCsv.Parse("day,a\n1,1\nx,2\n", "x.csv"));
        Assert.StartsWith("x.csv:3:1: day: 'x' is not a number (a first column of numbers is read as a feature unless", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Predictions_carry_the_key_as_their_first_column()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mi-pred-{Guid.NewGuid():N}.csv");
        try
        {
            FeatureMatrixCsv.WritePredictions(path, ["p0", "p1"], [0.25f, 0.75f, 0.5f, 0.5f], "timestamp", ["2024-01-02", "2024-01-03"]);
            Assert.Equal(["timestamp,p0,p1", "2024-01-02,0.25,0.75", "2024-01-03,0.5,0.5"], File.ReadAllLines(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
