using MarketIntel.Features.Io;
using MarketIntel.Features.Series;
using MarketIntel.Tests;

namespace MarketIntel.Features.Tests;

/// <summary>One asset's series: streaming features, the ring of recent bars, spec growth and replay, without Orleans.</summary>
public sealed class AssetSeriesTests
{
    private const string Spec = "sma_5,ema_10,rsi_14,obv";

    private static readonly BarSeries Msft = BarCsv.Read(RepoPaths.Data("msft-daily.csv"));

    // Bar i of MSFT at time 1000 * (i + 1).
    private static StoredBar At(int i) => new(1000L * (i + 1), Msft[i]);

    private static IEnumerable<StoredBar> Bars(int from, int count) => Enumerable.Range(from, count).Select(At);

    private static AssetSeries Series(string spec = Spec, int history = 64, bool archived = false) =>
        new(FeatureSet.Parse(spec), history, archived);

    private static void AssertBatchRow(AssetSeries series, string spec, int row)
    {
        double[][] batch = FeatureSet.Parse(spec).Compute(Msft);
        Assert.Equal(spec.Split(','), series.ValuesSpec.Names);
        for (int f = 0; f < batch.Length; f++)
        {
            Assert.Equal(batch[f][row], series.Values[f]);
        }
    }

    private static async IAsyncEnumerable<StoredBar> Archive(IEnumerable<StoredBar> bars, int failAfter = int.MaxValue)
    {
        int n = 0;
        foreach (StoredBar bar in bars)
        {
            if (n++ == failAfter)
            {
                throw new IOException("the archive went away");
            }
            await Task.Yield();
            yield return bar;
        }
    }

    [Fact]
    public void Bars_applied_one_by_one_give_the_batch_features_of_the_same_bars_on_every_row()
    {
        var series = Series();
        double[][] batch = FeatureSet.Parse(Spec).Compute(Msft);
        for (int i = 0; i < Msft.Count; i++)
        {
            series.Apply(At(i));
            for (int f = 0; f < batch.Length; f++)
            {
                Assert.Equal(batch[f][i], series.Values[f]);
            }
        }
        Assert.Equal(At(Msft.Count - 1).Timestamp, series.LastTimestamp);
    }

    [Fact]
    public void The_ring_keeps_the_latest_bars_oldest_first_once_it_wraps()
    {
        var series = Series(history: 5);
        Assert.False(series.HasBars);
        foreach (StoredBar bar in Bars(0, 12))
        {
            series.Apply(bar);
        }
        Assert.Equal(5, series.HistoryCount);
        Assert.Equal(Bars(7, 5), series.History());
    }

    [Fact]
    public void A_bar_not_after_the_last_one_is_not_applied()
    {
        var series = Series();
        series.Apply(At(3));
        Assert.Throws<ArgumentException>(() => series.Apply(At(3)));
        Assert.Throws<ArgumentException>(() => series.Apply(At(2)));
        Assert.Equal(At(3).Timestamp, series.LastTimestamp);
    }

    [Fact]
    public void An_older_timestamp_seen_before_is_a_duplicate_and_one_never_seen_is_out_of_order()
    {
        var series = Series(history: 4);
        // Bars 0-9 without bar 5: the ring holds 6-9 (bar 4 and older have left it).
        foreach (StoredBar bar in Bars(0, 10).Where(b => b.Timestamp != At(5).Timestamp))
        {
            series.Apply(bar);
        }
        Assert.Equal(BarOrder.New, series.Order(At(10).Timestamp));
        Assert.Equal(BarOrder.Duplicate, series.Order(At(9).Timestamp));
        Assert.Equal(BarOrder.Duplicate, series.Order(At(7).Timestamp));
        Assert.Equal(BarOrder.OutOfOrder, series.Order(At(7).Timestamp + 1));
        // Older than the whole ring: it cannot be checked, and a replay of the stream starts there.
        Assert.Equal(BarOrder.Duplicate, series.Order(At(5).Timestamp));

        // Bars accepted earlier in the same call count as seen, and the last of them is the one to be after.
        StoredBar[] pending = [At(10), At(12)];
        Assert.Equal(BarOrder.Duplicate, series.Order(At(10).Timestamp, pending));
        Assert.Equal(BarOrder.Duplicate, series.Order(At(12).Timestamp, pending));
        Assert.Equal(BarOrder.OutOfOrder, series.Order(At(11).Timestamp, pending));
        Assert.Equal(BarOrder.Duplicate, series.Order(At(9).Timestamp, pending));
        Assert.Equal(BarOrder.New, series.Order(At(13).Timestamp, pending));
    }

    [Fact]
    public void Before_any_bar_only_the_bars_pending_in_the_call_can_make_one_out_of_order()
    {
        var series = Series();
        Assert.Equal(BarOrder.New, series.Order(At(0).Timestamp));
        StoredBar[] pending = [At(2), At(4)];
        Assert.Equal(BarOrder.OutOfOrder, series.Order(At(3).Timestamp, pending));
        Assert.Equal(BarOrder.Duplicate, series.Order(At(1).Timestamp, pending));
    }

    [Fact]
    public void Growing_the_spec_rebuilds_the_new_features_exactly_from_the_ring()
    {
        // The ring holds every bar, so each new feature's warm-up is covered.
        var series = Series("sma_5", history: Msft.Count);
        foreach (StoredBar bar in Bars(0, Msft.Count))
        {
            series.Apply(bar);
        }

        Assert.True(series.EnsureFeatures(["rsi_14", "sma_5", "cci_20", "rsi_14"]));
        Assert.False(series.ReplayNeeded);
        Assert.Same(series.Spec, series.ValuesSpec);
        AssertBatchRow(series, "sma_5,rsi_14,cci_20", Msft.Count - 1);

        Assert.False(series.EnsureFeatures(["cci_20", "sma_5"]));
    }

    [Fact]
    public async Task Where_bars_are_archived_a_grown_spec_waits_for_a_replay_that_computes_it_from_the_first_bar()
    {
        // A ring far shorter than the new feature's warm-up: only the replay can be exact.
        var series = Series("sma_5", history: 8, archived: true);
        foreach (StoredBar bar in Bars(0, 100))
        {
            series.Apply(bar);
        }

        Assert.True(series.EnsureFeatures(["ema_50"]));
        Assert.True(series.ReplayNeeded);
        Assert.Equal(["sma_5", "ema_50"], series.Spec.Names);
        AssertBatchRow(series, "sma_5", 99);  // unchanged until the replay

        Assert.Equal(100, await series.Replay(Archive(Bars(0, 100))));
        Assert.False(series.ReplayNeeded);
        AssertBatchRow(series, "sma_5,ema_50", 99);
        Assert.Equal(Bars(92, 8), series.History());
    }

    [Fact]
    public void Before_any_bar_a_grown_spec_is_computed_from_the_first_bar()
    {
        var series = Series("sma_5", archived: true);
        Assert.True(series.EnsureFeatures(["rsi_14"]));
        Assert.False(series.ReplayNeeded);
        foreach (StoredBar bar in Bars(0, 40))
        {
            series.Apply(bar);
        }
        AssertBatchRow(series, "sma_5,rsi_14", 39);
    }

    [Fact]
    public async Task A_replay_that_fails_leaves_the_series_as_it_was()
    {
        var series = Series(history: 16, archived: true);
        foreach (StoredBar bar in Bars(0, 50))
        {
            series.Apply(bar);
        }
        series.EnsureFeatures(["cci_20"]);
        double[] values = series.Values.ToArray();
        StoredBar[] history = series.History().ToArray();

        await Assert.ThrowsAsync<IOException>(() => series.Replay(Archive(Bars(0, 50), failAfter: 30)));

        Assert.Equal(values, series.Values.ToArray());
        Assert.Equal(history, series.History());
        Assert.Equal(At(49).Timestamp, series.LastTimestamp);
        Assert.Equal(Spec.Split(','), series.ValuesSpec.Names);
        Assert.True(series.ReplayNeeded);
        // And it goes on as if the replay had never been tried.
        series.Apply(At(50));
        AssertBatchRow(series, Spec, 50);
    }

    [Fact]
    public async Task A_replay_of_an_empty_archive_leaves_no_bars_and_the_spec_ready_for_the_first()
    {
        var series = Series(archived: true);
        foreach (StoredBar bar in Bars(0, 10))
        {
            series.Apply(bar);
        }
        Assert.Equal(0, await series.Replay(Archive([])));
        Assert.False(series.HasBars);
        Assert.Equal(0, series.HistoryCount);
        Assert.Equal(BarOrder.New, series.Order(At(0).Timestamp));
    }

    [Fact]
    public async Task A_spec_read_back_from_storage_is_computed_by_the_replay_that_follows()
    {
        var series = Series("sma_5", history: 8, archived: true);
        foreach (StoredBar bar in Bars(0, 60))
        {
            series.Apply(bar);
        }
        series.Respecify(FeatureSet.Parse("sma_5,rsi_14"));
        Assert.True(series.ReplayNeeded);
        await series.Replay(Archive(Bars(0, 60)));
        AssertBatchRow(series, "sma_5,rsi_14", 59);
    }

    private static (long[] Timestamps, double[] Closes, float[] Predictions) History(AssetSeries series, int count)
    {
        var history = (new long[count], new double[count], new float[count]);
        series.CopyHistory(history.Item1, history.Item2, history.Item3);
        return history;
    }

    [Fact]
    public void Each_ring_slot_keeps_the_prediction_noted_after_its_bar_until_the_bar_leaves_the_ring()
    {
        var series = Series(history: 4);
        // A call of 6 bars, its predictions noted after all are applied (as the grain's batch does): the first two
        // bars have left a ring of 4, so their predictions are skipped.
        foreach (StoredBar bar in Bars(0, 6))
        {
            series.Apply(bar);
        }
        for (int b = 0; b < 6; b++)
        {
            series.NotePrediction(5 - b, 10 + b);
        }
        series.Apply(At(6));   // no prediction after this bar
        var (timestamps, closes, predictions) = History(series, 4);
        Assert.Equal(Bars(3, 4).Select(b => b.Timestamp), timestamps);
        Assert.Equal(Bars(3, 4).Select(b => b.Bar.Close), closes);
        Assert.Equal([13f, 14f, 15f, float.NaN], predictions);
        Assert.Equal([14f, 15f], History(series, 3).Predictions[..2]);
        Assert.Throws<ArgumentException>(() => History(series, 5));
    }

    [Fact]
    public async Task A_replay_or_a_checkpoint_rebuilds_the_ring_without_its_predictions()
    {
        var series = Series(history: 4, archived: true);
        foreach (StoredBar bar in Bars(0, 6))
        {
            series.Apply(bar);
            series.NotePrediction(0, 1f);
        }
        byte[] checkpoint = series.Checkpoint()!;
        await series.Replay(Archive(Bars(0, 6)));
        Assert.All(History(series, 4).Predictions, p => Assert.True(float.IsNaN(p)));
        series.NotePrediction(0, 2f);
        Assert.NotNull(await series.ReplayAfter(checkpoint, _ => Archive([])));
        Assert.All(History(series, 4).Predictions, p => Assert.True(float.IsNaN(p)));
        // A replay that fails puts the predictions back with the bars.
        series.NotePrediction(0, 3f);
        await Assert.ThrowsAsync<IOException>(() => series.Replay(Archive(Bars(0, 6), failAfter: 2)));
        Assert.Equal(3f, History(series, 1).Predictions[0]);
    }

    [Fact]
    public void The_ring_of_predictions_is_allocated_with_the_first_prediction_noted_and_reads_NaN_until_then()
    {
        // A ring of 10,000 bars: 480,000 bytes of bars and 40,000 of predictions beside them, far above what the
        // rest of a first bar allocates (the streams of one feature, the values).
        const int history = 10_000;
        var warm = Series("sma_5", history: 2);
        warm.Apply(At(0));  // type loading and static initialisation, not counted
        warm.NotePrediction(0, 0f);
        History(warm, 1);
        var series = Series("sma_5", history: history);
        long before = GC.GetAllocatedBytesForCurrentThread();
        series.Apply(At(0));
        long firstBar = GC.GetAllocatedBytesForCurrentThread() - before;
        foreach (StoredBar bar in Bars(1, 5))
        {
            series.Apply(bar);
        }
        Assert.InRange(firstBar, history * 48, history * 48 + history * sizeof(float) / 2);
        Assert.All(History(series, 6).Predictions, p => Assert.True(float.IsNaN(p)));

        before = GC.GetAllocatedBytesForCurrentThread();
        series.NotePrediction(1, 0.25f);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, history * sizeof(float), history * sizeof(float) + 1024);
        Assert.Equal([float.NaN, float.NaN, float.NaN, float.NaN, 0.25f, float.NaN], History(series, 6).Predictions);
        series.Apply(At(6));
        Assert.Equal([float.NaN, float.NaN, float.NaN, 0.25f, float.NaN, float.NaN], History(series, 6).Predictions);
    }
}
