namespace MarketIntel.Training.Devices;

/// <summary>
/// A job's hold on a <see cref="ITrainingDevice"/>, through which whatever the device throws comes out as a
/// <see cref="TrainingDeviceException"/> naming it, so the job can tell the device's failures from its own errors (which the
/// CPU path would meet too) and from a cancellation (never a device failure).
/// </summary>
internal sealed class CheckedHistogramDevice : IHistogramDevice
{
    private readonly string _device;
    private readonly IHistogramDevice _steps;
    private bool _failed;

    private CheckedHistogramDevice(string device, IHistogramDevice steps)
    {
        _device = device;
        _steps = steps;
    }

    /// <summary>Takes <paramref name="device"/> (<see cref="ITrainingDevice.Take"/>), waiting while another job holds it.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired while waiting.</exception>
    /// <exception cref="TrainingDeviceException">The device failed to start the job.</exception>
    public static CheckedHistogramDevice Take(ITrainingDevice device, CancellationToken cancellation)
    {
        string name = device.Device;
        try
        {
            return new CheckedHistogramDevice(name, device.Take(cancellation));
        }
        catch (Exception e) when (IsDeviceFailure(e))
        {
            throw TrainingDeviceException.Of(name, e);
        }
    }

    public void Load(QuantizedMatrix matrix)
    {
        try
        {
            _steps.Load(matrix);
        }
        catch (Exception e) when (IsDeviceFailure(e))
        {
            throw Failed(e);
        }
    }

    public void StartTraining(ReadOnlySpan<float> labels, bool logistic, double baseMargin)
    {
        try
        {
            _steps.StartTraining(labels, logistic, baseMargin);
        }
        catch (Exception e) when (IsDeviceFailure(e))
        {
            throw Failed(e);
        }
    }

    public void StartTree(int[]? sample, int count, Span<double> rootHistogram)
    {
        try
        {
            _steps.StartTree(sample, count, rootHistogram);
        }
        catch (Exception e) when (IsDeviceFailure(e))
        {
            throw Failed(e);
        }
    }

    public void SplitLevel(ReadOnlySpan<DeviceSplit> splits, Span<int> leftCounts, double[][]? childHistograms)
    {
        try
        {
            _steps.SplitLevel(splits, leftCounts, childHistograms);
        }
        catch (Exception e) when (IsDeviceFailure(e))
        {
            throw Failed(e);
        }
    }

    public void FinishTree(RegressionTree tree)
    {
        try
        {
            _steps.FinishTree(tree);
        }
        catch (Exception e) when (IsDeviceFailure(e))
        {
            throw Failed(e);
        }
    }

    /// <summary>Gives the device back. After a failure, what freeing its buffers throws is dropped: the device has failed
    /// already, and the job goes on on the CPU.</summary>
    public void Dispose()
    {
        try
        {
            _steps.Dispose();
        }
        catch (Exception e) when (IsDeviceFailure(e))
        {
            if (!_failed)
            {
                throw Failed(e);
            }
        }
    }

    // Anything but a cancellation: an exception type cannot say whether a device is at fault (ILGPU throws its own, the
    // runtime's out-of-memory, or whatever a driver call answers), but it comes from the device's calls alone.
    private static bool IsDeviceFailure(Exception e) => e is not (OperationCanceledException or TrainingDeviceException);

    private TrainingDeviceException Failed(Exception e)
    {
        _failed = true;
        return TrainingDeviceException.Of(_device, e);
    }
}
