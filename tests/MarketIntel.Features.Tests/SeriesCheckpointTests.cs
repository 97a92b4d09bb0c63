using MarketIntel.Features.Io;
using MarketIntel.Features.Series;
using MarketIntel.Tests;

namespace MarketIntel.Features.Tests;

/// <summary>
/// An asset's series continued from a checkpoint equals, bit for bit, the series that never stopped: activations
/// read the latest checkpoint and replay only the bars after it.
/// </summary>
public sealed class SeriesCheckpointTests
{
    // Every indicator of the grammar, a lag, and the parameters the grid serves by default.
    private const string Spec = "sma_20,ema_20,wma_10,rsi_14,atr_14,macd_12_26_9,macdsignal_12_26_9,bbpctb_20_2,bbwidth_20_2,roc_10," +
        "stochk_14_3,stochd_14_3,obv,logretsd_20,cci_20,adx_14,wpr_14,mfi_14,vwap_20,zscore_20,lag_1_rsi_14";

    private static readonly BarSeries Ttrc = BarCsv.Read(RepoPaths.Data("ttrc-daily.csv"));

    private static StoredBar At(int i) => new(1000L * (i + 1), Ttrc[i]);

    private static AssetSeries Series(string spec = Spec) => new(FeatureSet.Parse(spec), 64, archived: true);

    private static async IAsyncEnumerable<StoredBar> After(long timestamp, int end)
    {
        for (int i = 0; i < end; i++)
        {
            if (At(i).Timestamp > timestamp)
            {
                await Task.Yield();
                yield return At(i);
            }
        }
    }

    [Fact]
    public async Task Continuing_from_a_checkpoint_taken_after_any_bar_equals_the_uninterrupted_series_bit_for_bit()
    {
        const int Bars = 1000;
        var uninterrupted = Series();
        var checkpoints = new byte[Bars][];
        var values = new double[Bars][];
        for (int i = 0; i < Bars; i++)
        {
            uninterrupted.Apply(At(i));
            checkpoints[i] = uninterrupted.Checkpoint()!;
            values[i] = uninterrupted.Values.ToArray();
        }
        for (int k = 0; k < Bars; k++)
        {
            var restored = Series();
            int? replayed = await restored.ReplayAfter(checkpoints[k], t => After(t, Bars));
            Assert.Equal(Bars - 1 - k, replayed);
            Assert.Equal(At(Bars - 1).Timestamp, restored.LastTimestamp);
            for (int f = 0; f < values[^1].Length; f++)
            {
                // Bitwise: the same double, NaN where the uninterrupted one is NaN.
                Assert.True(BitConverter.DoubleToInt64Bits(values[^1][f]) == BitConverter.DoubleToInt64Bits(restored.Values[f]),
                    $"checkpoint after bar {k}: {restored.ValuesSpec.Names.ElementAt(f)} is {restored.Values[f]:R}, uninterrupted {values[^1][f]:R}");
            }
            // The ring came back too: a bar it holds is a duplicate, a new one is new.
            Assert.Equal(BarOrder.Duplicate, restored.Order(At(Bars - 2).Timestamp));
            Assert.Equal(BarOrder.New, restored.Order(At(Bars - 1).Timestamp + 1));
        }
    }

    [Fact]
    public async Task A_checkpoint_of_another_spec_or_damaged_bytes_is_refused_and_leaves_the_series_as_it_was()
    {
        var series = Series();
        for (int i = 0; i < 50; i++)
        {
            series.Apply(At(i));
        }
        byte[] checkpoint = series.Checkpoint()!;

        // The spec changed (a model added a feature): the checkpoint no longer describes what is computed.
        var grown = Series(Spec + ",sma_5");
        Assert.Null(await grown.ReplayAfter(checkpoint, t => After(t, 60)));
        Assert.False(grown.HasBars);

        // Truncated and corrupted bytes.
        var fresh = Series();
        Assert.Null(await fresh.ReplayAfter(checkpoint[..(checkpoint.Length / 2)], t => After(t, 60)));
        byte[] corrupt = (byte[])checkpoint.Clone();
        corrupt[^1] ^= 0xFF;
        corrupt[10] ^= 0xFF;
        Assert.Null(await fresh.ReplayAfter(corrupt, t => After(t, 60)));
        Assert.False(fresh.HasBars);

        // A kernel of other parameters in the same slot (sma_10 for sma_20): the construction-time fields differ.
        string other = Spec.Replace("sma_20", "sma_10", StringComparison.Ordinal);
        Assert.Null(await Series(other).ReplayAfter(checkpoint, t => After(t, 60)));
        Assert.NotNull(await Series().ReplayAfter(checkpoint, t => After(t, 60)));
    }

    [Fact]
    public void A_series_with_no_bar_or_a_replay_due_has_no_checkpoint()
    {
        var series = Series();
        Assert.Null(series.Checkpoint());
        series.Apply(At(0));
        Assert.NotNull(series.Checkpoint());
        series.EnsureFeatures(["sma_5"]);  // archived: the new feature waits for a replay
        Assert.True(series.ReplayNeeded);
        Assert.Null(series.Checkpoint());
    }
}
