namespace MarketIntel.Training.Devices;

/// <summary>
/// A training device failed during a job (a launch threw, its context was lost, it ran out of memory): what the device
/// threw is the inner exception. <see cref="Retraining.RetrainPipeline.Run"/> answers it by training the job again on the
/// CPU; a cancellation is never one.
/// </summary>
public sealed class TrainingDeviceException : Exception
{
    public TrainingDeviceException() { }

    public TrainingDeviceException(string message) : base(message) { }

    public TrainingDeviceException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The device that failed (<see cref="ITrainingDevice.Device"/>).</summary>
    public string Device { get; init; } = "";

    /// <summary>What the device threw, in one line: its type and message.</summary>
    public string Error => InnerException is { } e ? $"{e.GetType().Name}: {e.Message}" : Message;

    /// <summary><paramref name="error"/>, thrown by <paramref name="device"/>, as a device failure that names both.</summary>
    public static TrainingDeviceException Of(string device, Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new($"device {device} failed: {error.GetType().Name}: {error.Message}", error) { Device = device };
    }
}
