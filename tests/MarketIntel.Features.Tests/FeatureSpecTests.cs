namespace MarketIntel.Features.Tests;

public sealed class FeatureSpecTests
{
    [Fact]
    public void A_spec_keeps_the_names_as_written_and_in_order()
    {
        var set = FeatureSet.Parse(" sma_7, bbpctb_10_1.5 ,lag_1_rsi_14,obv,logret_1");
        Assert.Equal(["sma_7", "bbpctb_10_1.5", "lag_1_rsi_14", "obv", "logret_1"], set.Names);
        Assert.Equal([10.0, 1.5], set.Definitions[1].Parameters);
        Assert.Equal("lag", set.Definitions[2].Indicator);
    }

    [Theory]
    [InlineData("sma_0", "sma_0", "parameter N=0 must be between 1 and")]
    [InlineData("sma_7.5", "sma_7.5", "must be a whole number")]
    [InlineData("sma_x", "sma_x", "parameter N='x' is not a number")]
    [InlineData("sma", "sma", "expected 1 parameter (sma_N), got 0")]
    [InlineData("sma_5_5", "sma_5_5", "expected 1 parameter")]
    [InlineData("macd_26_12_9", "macd_26_12_9", "fast period F=26 must be less than slow period S=12")]
    [InlineData("macd_12_12_9", "macd_12_12_9", "fast period F=12 must be less than slow period S=12")]
    [InlineData("bbpctb_20_0", "bbpctb_20_0", "band width K=0 must be greater than 0")]
    [InlineData("bbpctb_20_nan", "bbpctb_20_nan", "is not a number")]
    [InlineData("zscore_1", "zscore_1", "parameter N=1 must be between 2 and")]
    [InlineData("adx_1", "adx_1", "parameter N=1 must be between 2 and")]
    [InlineData("foo_3", "foo_3", "unknown indicator 'foo'")]
    [InlineData("obv_3", "obv_3", "expected 0 parameters")]
    [InlineData("lag_0_close", "lag_0_close", "parameter L=0")]
    [InlineData("lag_2", "lag_2", "a lag is written lag_L_<feature>")]
    [InlineData("lag_1_foo_2", "lag_1_foo_2", "unknown indicator 'foo'")]
    [InlineData("lag_60000_lag_50000_close", "lag_60000_lag_50000_close", "the lags add up to 110000")]
    [InlineData("sma_1000000", "sma_1000000", "must be between 1 and 100000")]
    public void A_bad_feature_is_rejected_naming_the_feature_and_parameter(string spec, string feature, string message)
    {
        var e = Assert.Throws<FeatureSpecException>(() => FeatureSet.Parse("ema_5," + spec));
        Assert.Equal(feature, e.Feature);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_and_repeated_names_are_rejected()
    {
        Assert.Contains("empty name at position 2", Assert.Throws<FeatureSpecException>(() => FeatureSet.Parse("sma_5,,ema_5")).Message, StringComparison.Ordinal);
        Assert.Contains("appears twice", Assert.Throws<FeatureSpecException>(() => FeatureSet.Parse("sma_5,ema_5,sma_5")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lag_of_a_lag_is_the_summed_lag_in_batch_and_streaming()
    {
        double[] close = Enumerable.Range(0, 60).Select(i => 100 + Math.Sin(i * 0.7) * 5 + i * 0.1).ToArray();
        var bars = BarSeries.FromCloses(close.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(), close);
        var set = FeatureSet.Parse("lag_2_lag_3_sma_5,lag_5_sma_5,sma_5");
        double[][] batch = set.Compute(bars);
        var stream = set.CreateStream();
        var row = new double[3];
        for (int i = 0; i < close.Length; i++)
        {
            stream.Update(bars[i], row);
            Assert.Equal(batch[1][i], batch[0][i]);
            Assert.Equal(batch[0][i], row[0]);
            Assert.Equal(i >= 9 ? batch[2][i - 5] : double.NaN, batch[0][i]);
        }
    }
}
