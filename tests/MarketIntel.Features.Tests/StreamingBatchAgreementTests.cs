namespace MarketIntel.Features.Tests;

/// <summary>The streaming form, fed bar by bar, gives exactly the batch form's value on every row.</summary>
public sealed class StreamingBatchAgreementTests
{
    private const string Everything =
        "sma_1,sma_20,ema_1,ema_20,wma_2,wma_10,rsi_2,rsi_14,atr_1,atr_14,macd_12_26_9,macdsignal_12_26_9,macdsignal_3_10_16," +
        "bbpctb_20_2,bbpctb_10_1.5,bbwidth_20_2,roc_1,roc_10,stochk_14_3,stochd_14_3,stochd_21_1,obv,logretsd_2,logretsd_20," +
        "cci_3,cci_20,adx_2,adx_14,wpr_14,mfi_2,mfi_14,vwap_1,vwap_20,zscore_2,zscore_20,logret_1,logret_5," +
        "lag_1_close,lag_3_rsi_14,lag_2_lag_2_sma_20,open,high,low,close,volume";

    public static TheoryData<string, string?> Inputs => new()
    {
        { "ttrc-daily.csv", null },
        { "msft-daily.csv", null },
        { "usdchf-30m.csv", null },
        { "eustockmarkets-daily.csv", "SMI" },
        { "fixture:flat-ohlcv.csv", null },
    };

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Streaming_updates_equal_the_batch_columns_on_every_row(string input, string? close)
    {
        var bars = TtrReferenceTests.LoadBars(input, close);
        var set = FeatureSet.Parse(Everything);
        double[][] batch = set.Compute(bars);
        var stream = set.CreateStream();
        var values = new double[set.Count];
        var names = set.Names.ToArray();
        for (int i = 0; i < bars.Count; i++)
        {
            stream.Update(bars[i], values);
            for (int f = 0; f < values.Length; f++)
            {
                // Bitwise: the same kernel runs in both forms, so even the last bit must agree (NaN equals NaN).
                if (!values[f].Equals(batch[f][i]))
                {
                    Assert.Fail($"{names[f]} row {i + 1}: streaming {values[f]:R}, batch {batch[f][i]:R}");
                }
            }
        }
        // The comparison means something only if the features are defined on most rows.
        Assert.All(batch, column => Assert.True(column.Count(double.IsFinite) > bars.Count / 2));
    }

    [Fact]
    public void Two_streams_of_one_spec_keep_separate_state()
    {
        var bars = TtrReferenceTests.LoadBars("msft-daily.csv", null);
        var set = FeatureSet.Parse("sma_5,ema_5,rsi_5,lag_2_close");
        var a = set.CreateStream();
        var b = set.CreateStream();
        var va = new double[set.Count];
        var vb = new double[set.Count];
        for (int i = 0; i < 50; i++)
        {
            // Interleaved, as a silo updates many assets: neither stream may see the other's bars.
            a.Update(bars[i], va);
            b.Update(bars[i + 100], vb);
        }
        double[][] batch = set.Compute(bars);
        for (int f = 0; f < set.Count; f++)
        {
            Assert.Equal(batch[f][49], va[f]);
        }
        Assert.NotEqual(va, vb);
    }

    [Fact]
    public void Lags_shift_the_inner_feature_by_whole_bars()
    {
        var bars = TtrReferenceTests.LoadBars("msft-daily.csv", null);
        double[] rsi = FeatureDefinition.Parse("rsi_14").Compute(bars);
        double[] lagged = FeatureDefinition.Parse("lag_3_rsi_14").Compute(bars);
        double[] logret = FeatureDefinition.Parse("logret_4").Compute(bars);
        for (int i = 0; i < bars.Count; i++)
        {
            Assert.Equal(i >= 3 ? rsi[i - 3] : double.NaN, lagged[i]);
            double expected = i >= 4 ? Math.Log(bars.Close[i] / bars.Close[i - 4]) : double.NaN;
            Assert.Equal(expected, logret[i], 1e-15);
        }
    }
}
