using System.Runtime.CompilerServices;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains.Assets;

namespace MarketIntel.Grains.Tests;

/// <summary>What an asset grain's prediction recorder hands the log for one call, and what it keeps afterwards.</summary>
public sealed class PredictionRecorderTests
{
    // Keeps a copy of each batch's rows and only a weak reference to its arrays, so a test can see who else holds them.
    private sealed class WeakLog : IPredictionLog
    {
        public bool IsEnabled => true;

        public List<(long Timestamp, float[] Row)> Rows { get; } = [];

        public List<WeakReference> Arrays { get; } = [];

        public bool Append(PredictionBatch batch)
        {
            int width = batch.Versions.Count;
            for (int bar = 0; bar < batch.Count; bar++)
            {
                Rows.Add((batch.Timestamps[bar], batch.Values.AsSpan(bar * width, width).ToArray()));
            }
            Arrays.Add(new WeakReference(batch.Timestamps));
            Arrays.Add(new WeakReference(batch.Values));
            return true;
        }
    }

    [Fact]
    public void A_call_s_predictions_go_to_the_log_as_one_batch_and_the_recorder_keeps_neither_of_its_arrays()
    {
        var log = new WeakLog();
        var recorder = new PredictionRecorder(log);
        RecordOneCall(recorder);

        // The bar with no prediction (warm-up) is left out; a shadow's missing value is NaN.
        Assert.Equal([10L, 30L], log.Rows.Select(r => r.Timestamp));
        Assert.Equal([0.25f, 0.5f], log.Rows[0].Row);
        Assert.Equal([0.75f, float.NaN], log.Rows[1].Row);

        // Once the log has let the batch go, nothing holds its arrays: the recorder does not keep them until its next call.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.All(log.Arrays, array => Assert.False(array.IsAlive));
        GC.KeepAlive(recorder);
    }

    // Apart, so that no local of the test method keeps the call's arrays reachable.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RecordOneCall(PredictionRecorder recorder)
    {
        var lineup = new ModelLineup([new ModelRef("m", "v1"), new ModelRef("m", "v2")], [], null, complete: true);
        recorder.Begin(lineup, 3);
        recorder.Bar(10);
        recorder.Record(0, 0.25f);
        recorder.Record(1, 0.5f);
        recorder.Bar(20);
        recorder.Bar(30);
        recorder.Record(0, 0.75f);
        recorder.Complete("A");
    }
}
