namespace MarketIntel.Features.Tests;

/// <summary>The label names <c>up_K</c> and <c>logret_K</c>, and their values K bars ahead.</summary>
public sealed class LabelDefinitionTests
{
    [Theory]
    [InlineData("up_5", LabelKind.Direction, 5)]
    [InlineData("logret_1", LabelKind.LogReturn, 1)]
    [InlineData(" up_20 ", LabelKind.Direction, 20)]
    public void Label_names_give_their_kind_and_horizon_and_back(string name, LabelKind kind, int horizon)
    {
        LabelDefinition label = LabelDefinition.Parse(name);
        Assert.Equal(new LabelDefinition(kind, horizon), label);
        Assert.Equal(name.Trim(), label.Name);
    }

    [Theory]
    [InlineData("up_0")]
    [InlineData("up_-1")]
    [InlineData("up_1.5")]
    [InlineData("up_+3")]
    [InlineData("up_")]
    [InlineData("down_5")]
    [InlineData("sma_5")]
    [InlineData("up_99999999999")]
    public void Other_names_are_not_labels(string name)
    {
        Assert.False(LabelDefinition.TryParse(name, out _));
        var e = Assert.Throws<FeatureSpecException>(() => LabelDefinition.Parse(name));
        Assert.StartsWith($"label '{name}': expected up_K or logret_K", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Values_look_k_bars_ahead_and_are_missing_where_that_bar_is_not_there()
    {
        double[] close = [10, 11, 11, 9, 12];
        var up = new LabelDefinition(LabelKind.Direction, 1);
        Assert.Equal([1, 0, 0, 1, double.NaN], Enumerable.Range(0, 5).Select(t => up.At(close, t)));
        var logret = new LabelDefinition(LabelKind.LogReturn, 2);
        Assert.Equal(Math.Log(11 / 10.0), logret.At(close, 0));
        Assert.Equal(Math.Log(12 / 11.0), logret.At(close, 2));
        Assert.True(double.IsNaN(logret.At(close, 3)));
        Assert.True(double.IsNaN(new LabelDefinition(LabelKind.Direction, int.MaxValue).At(close, 4)));
    }
}
