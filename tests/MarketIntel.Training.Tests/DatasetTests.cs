using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Tests;

namespace MarketIntel.Training.Tests;

/// <summary>Training rows from bars: features as the batch form computes them, labels from the close k bars later, no look-ahead.</summary>
public sealed class DatasetTests
{
    private static readonly BarSeries Ttrc = BarCsv.Read(RepoPaths.Data("ttrc-daily.csv"));

    private const string Spec = "sma_50,rsi_14,lag_2_roc_5,close";

    private static BarSeries First(BarSeries s, int n) => new(s.Timestamps[..n], s.Open[..n], s.High[..n], s.Low[..n], s.Close[..n], s.Volume[..n]);

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(20)]
    public void Rows_start_after_the_warm_up_end_k_bars_before_the_last_and_label_the_close_k_bars_later(int k)
    {
        var data = Dataset.Build(Ttrc, FeatureSet.Parse(Spec), k, LabelKind.Direction);
        // sma_50 is the last feature defined: from bar 49.
        Assert.Equal(49, data.BarIndex[0]);
        Assert.Equal(Ttrc.Count - k - 1, data.BarIndex[^1]);
        Assert.Equal(Ttrc.Count - k - 49, data.Rows);
        double[][] columns = FeatureSet.Parse(Spec).Compute(Ttrc);
        for (int r = 0; r < data.Rows; r++)
        {
            int t = data.BarIndex[r];
            Assert.Equal(Ttrc.Close[t + k] > Ttrc.Close[t] ? 1f : 0f, data.Labels[r]);
            Assert.Equal(Ttrc.Timestamps[t], data.Timestamps[r]);
            for (int f = 0; f < columns.Length; f++)
            {
                Assert.Equal((float)columns[f][t], data.Row(r)[f]);
            }
        }
        Assert.Equal(Spec.Split(','), data.FeatureNames);
    }

    [Fact]
    public void Log_return_labels_are_the_log_of_the_close_ratio()
    {
        var data = Dataset.Build(Ttrc, FeatureSet.Parse("rsi_14"), 3, LabelKind.LogReturn);
        for (int r = 0; r < data.Rows; r += 97)
        {
            int t = data.BarIndex[r];
            Assert.Equal((float)Math.Log(Ttrc.Close[t + 3] / Ttrc.Close[t]), data.Labels[r]);
        }
        // Flat moves exist in this data; as a direction they are "not up".
        var up = Dataset.Build(Ttrc, FeatureSet.Parse("rsi_14"), 3, LabelKind.Direction);
        int flat = Enumerable.Range(0, data.Rows).Count(r => data.Labels[r] == 0f);
        Assert.True(flat > 0);
        Assert.All(Enumerable.Range(0, data.Rows).Where(r => data.Labels[r] == 0f), r => Assert.Equal(0f, up.Labels[r]));
    }

    [Fact]
    public void No_row_depends_on_a_bar_after_it_except_its_label_on_bar_t_plus_k()
    {
        // The same rows from the first 3000 bars and from all 5550: a row of the short series is identical in the
        // long one, so nothing after bar t + k reached it; and the short series has exactly the rows whose label
        // bar it contains.
        const int k = 7;
        var spec = FeatureSet.Parse("ema_30,macd_12_26_9,adx_14,bbpctb_20_2,zscore_20,lag_3_cci_20");
        var full = Dataset.Build(Ttrc, spec, k, LabelKind.LogReturn);
        var part = Dataset.Build(First(Ttrc, 3000), spec, k, LabelKind.LogReturn);
        Assert.Equal(3000 - k - 1, part.BarIndex[^1]);
        int offset = Array.IndexOf(full.BarIndex, part.BarIndex[0]);
        Assert.True(offset >= 0);
        for (int r = 0; r < part.Rows; r++)
        {
            Assert.Equal(part.BarIndex[r], full.BarIndex[offset + r]);
            Assert.Equal(part.Labels[r], full.Labels[offset + r]);
            Assert.True(part.Row(r).SequenceEqual(full.Row(offset + r)), $"row of bar {part.BarIndex[r]}");
        }

        // Changing every bar after t + k leaves row t as it was.
        int t = 2000;
        var changed = First(Ttrc, Ttrc.Count);
        for (int i = t + k + 1; i < changed.Count; i++)
        {
            changed.Close[i] *= 1.5;
            changed.High[i] *= 1.5;
            changed.Open[i] *= 1.5;
            changed.Low[i] *= 1.5;
        }
        var after = Dataset.Build(changed, spec, k, LabelKind.LogReturn);
        int row = Array.IndexOf(full.BarIndex, t);
        Assert.True(full.Row(row).SequenceEqual(after.Row(row)));
        Assert.Equal(full.Labels[row], after.Labels[row]);
    }

    [Theory]
    [InlineData(0, "horizon 0: the label looks at least 1 bar ahead")]
    [InlineData(-2, "horizon -2: the label looks at least 1 bar ahead")]
    [InlineData(5550, "horizon 5550: the series has 5550 bars")]
    public void A_horizon_that_labels_nothing_is_refused_naming_it(int horizon, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Dataset.Build(Ttrc, FeatureSet.Parse("rsi_14"), horizon, LabelKind.Direction));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_spec_whose_warm_up_outlasts_the_labels_gives_no_rows_not_an_error()
    {
        var data = Dataset.Build(First(Ttrc, 60), FeatureSet.Parse("sma_50"), 15, LabelKind.Direction);
        Assert.Equal(0, data.Rows);
    }
}
