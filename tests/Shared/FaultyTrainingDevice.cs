using MarketIntel.Training;
using MarketIntel.Training.Devices;

namespace MarketIntel.Tests;

/// <summary>
/// A training device (a test double of our own seam, over a real one: ILGPU's CPU accelerator in the tests) that
/// counts the steps jobs launch on it and fails the step after the first <see cref="FailAfter"/> of them, as a GPU
/// does whose launch throws or whose context is lost. <see cref="PauseAt"/> holds one step until the test lets it go.
/// </summary>
internal sealed class FaultyTrainingDevice(ITrainingDevice device) : ITrainingDevice
{
    private int _launches;
    private int _takes;

    /// <summary>The steps that succeed before every later one throws; <see cref="int.MaxValue"/> (the default): none throws.</summary>
    public int FailAfter { get; set; } = int.MaxValue;

    /// <summary>The step (1, 2, ...) that waits, before it runs, until <see cref="Release"/> is set; 0: none.</summary>
    public int PauseAt { get; set; }

    /// <summary>Set when the step <see cref="PauseAt"/> names is reached.</summary>
    public ManualResetEventSlim Paused { get; } = new();

    /// <summary>Lets the paused step go on.</summary>
    public ManualResetEventSlim Release { get; } = new();

    /// <summary>Steps launched so far, the failed ones included.</summary>
    public int Launches => Volatile.Read(ref _launches);

    /// <summary>Jobs that took the device.</summary>
    public int Takes => Volatile.Read(ref _takes);

    /// <summary>What each failed step throws.</summary>
    public static string Injected(int launch) => $"injected failure at launch {launch}";

    public string Device => device.Device;

    public IHistogramDevice Take(CancellationToken cancellation)
    {
        IHistogramDevice steps = device.Take(cancellation);
        Interlocked.Increment(ref _takes);
        return new Steps(this, steps);
    }

    private void Launch()
    {
        int launch = Interlocked.Increment(ref _launches);
        if (launch == PauseAt)
        {
            Paused.Set();
            Release.Wait();
        }
        if (launch > FailAfter)
        {
            throw new InvalidOperationException(Injected(launch));
        }
    }

    private sealed class Steps(FaultyTrainingDevice owner, IHistogramDevice steps) : IHistogramDevice
    {
        public void Load(QuantizedMatrix matrix)
        {
            owner.Launch();
            steps.Load(matrix);
        }

        public void StartTraining(ReadOnlySpan<float> labels, bool logistic, double baseMargin)
        {
            owner.Launch();
            steps.StartTraining(labels, logistic, baseMargin);
        }

        public void StartTree(int[]? sample, int count, Span<double> rootHistogram)
        {
            owner.Launch();
            steps.StartTree(sample, count, rootHistogram);
        }

        public void SplitLevel(ReadOnlySpan<DeviceSplit> splits, Span<int> leftCounts, double[][]? childHistograms)
        {
            owner.Launch();
            steps.SplitLevel(splits, leftCounts, childHistograms);
        }

        public void FinishTree(RegressionTree tree)
        {
            owner.Launch();
            steps.FinishTree(tree);
        }

        public void Dispose() => steps.Dispose();
    }
}
