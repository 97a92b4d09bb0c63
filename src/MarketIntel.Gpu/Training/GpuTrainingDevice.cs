using MarketIntel.Gpu.Devices;
using MarketIntel.Training;
using MarketIntel.Training.Devices;

namespace MarketIntel.Gpu.Training;

/// <summary>
/// The training jobs of a process that holds one <see cref="GpuDevice"/> (a worker silo's), each through its own
/// <see cref="GpuHistogramDevice"/>: one job at a time, and each of its steps under the device's
/// <see cref="GpuDevice.Launches"/> lock, which the silo's drift scans take too.
/// </summary>
/// <remarks>
/// One job at a time because a job keeps its quantized matrix on the device from its first tree to its last; two
/// would need twice the memory and gain nothing, since each step's launches fill the device. Steps (one level of one
/// tree) rather than whole jobs hold the launch lock, so a drift scan waits for a level, not for a job's minutes.
/// The device is the host's, which disposes it; this owns only the job slot.
/// </remarks>
public sealed class GpuTrainingDevice(GpuDevice device) : ITrainingDevice, IDisposable
{
    private readonly GpuDevice _device = device ?? throw new ArgumentNullException(nameof(device));
    private readonly SemaphoreSlim _job = new(1, 1);
    private long _jobs;

    /// <inheritdoc/>
    public string Device => _device.Description;

    /// <summary>Jobs that have taken the device since the process started.</summary>
    public long Jobs => Interlocked.Read(ref _jobs);

    /// <summary>Whether a job holds the device now (the next <see cref="Take"/> waits).</summary>
    public bool Busy => _job.CurrentCount == 0;

    /// <inheritdoc/>
    public IHistogramDevice Take(CancellationToken cancellation)
    {
        _job.Wait(cancellation);
        try
        {
            GpuHistogramDevice histograms;
            lock (_device.Launches)
            {
                histograms = new GpuHistogramDevice(_device.Accelerator);
            }
            Interlocked.Increment(ref _jobs);
            return new Lease(this, histograms);
        }
        catch
        {
            _job.Release();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _job.Dispose();

    // One job's hold on the device: each call under the launch lock, finished on the device before the lock is let go
    // (so the next holder's launches never overlap it); disposing frees its buffers and the job slot, once.
    private sealed class Lease(GpuTrainingDevice owner, GpuHistogramDevice histograms) : IHistogramDevice
    {
        private int _returned;

        public void Load(QuantizedMatrix matrix)
        {
            lock (owner._device.Launches)
            {
                histograms.Load(matrix);
                owner._device.Accelerator.Synchronize();
            }
        }

        public void StartTraining(ReadOnlySpan<float> labels, bool logistic, double baseMargin)
        {
            lock (owner._device.Launches)
            {
                histograms.StartTraining(labels, logistic, baseMargin);
                owner._device.Accelerator.Synchronize();
            }
        }

        public void StartTree(int[]? sample, int count, Span<double> rootHistogram)
        {
            lock (owner._device.Launches)
            {
                histograms.StartTree(sample, count, rootHistogram);
                owner._device.Accelerator.Synchronize();
            }
        }

        public void SplitLevel(ReadOnlySpan<DeviceSplit> splits, Span<int> leftCounts, double[][]? childHistograms)
        {
            lock (owner._device.Launches)
            {
                histograms.SplitLevel(splits, leftCounts, childHistograms);
                owner._device.Accelerator.Synchronize();
            }
        }

        public void FinishTree(RegressionTree tree)
        {
            lock (owner._device.Launches)
            {
                histograms.FinishTree(tree);
                owner._device.Accelerator.Synchronize();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _returned, 1) == 1)
            {
                return;
            }
            try
            {
                lock (owner._device.Launches)
                {
                    histograms.Dispose();
                }
            }
            finally
            {
                owner._job.Release();
            }
        }
    }
}
