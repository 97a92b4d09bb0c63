using MarketIntel.Training.Devices;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Grains.Retraining;

/// <summary>
/// The device this silo's retraining jobs train on: the <see cref="ITrainingDevice"/> its host opened (a worker started
/// with a GPU, or ILGPU's CPU accelerator with <c>--device cpu</c>) until it fails during a job, and the CPU from then
/// until the silo restarts. The job that met the failure trains again on the CPU (<see cref="Training.Retraining.RetrainPipeline.Run"/>),
/// with a warning logged naming the device and its error.
/// </summary>
/// <remarks>
/// Out of use until a restart rather than tried again by the next job, as the silo's drift scans do: a lost CUDA
/// context (an illegal address, an ECC or Xid error, a GPU fallen off the bus) is sticky, so every later call in the
/// process fails the same way, and the context cannot be made again under the drift engine that shares it; a device that
/// fails now and then fails mid-job, after minutes of a job's work, where a failed drift scan costs milliseconds. The
/// job's result is the same on the CPU, so only speed is lost, and the warning and the jobs' details say a restart
/// brings the device back.
/// </remarks>
public sealed partial class SiloTrainingDevice(ILogger<SiloTrainingDevice> log, ITrainingDevice? device = null)
{
    private TrainingDeviceException? _failure;
    private long _fallbacks;

    /// <summary>The failure that put the device out of use, or null.</summary>
    public TrainingDeviceException? Failure => Volatile.Read(ref _failure);

    /// <summary>Jobs whose device failed during them, which then trained on the CPU.</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    /// <summary>
    /// The device a job trains on now (null without one, or once it has failed) and where it trains, for its detail:
    /// <c>""</c> without a device, <c>" on device D"</c>, or, once it has failed, <c>" on the CPU (device D is out of use
    /// since it failed: ...)"</c>.
    /// </summary>
    public (ITrainingDevice? Device, string Where) Choose() => (device, Failure) switch
    {
        (null, _) => (null, ""),
        (_, null) => (device, $" on device {device.Device}"),
        (_, { } failure) => (null, $" on the CPU ({OutOfUse(failure)})"),
    };

    /// <summary>Takes the device out of use after <paramref name="failure"/> during job <paramref name="job"/> of model
    /// <paramref name="name"/>, counts it and logs a warning with the device's exception.</summary>
    public void Failed(string name, string job, TrainingDeviceException failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        Interlocked.CompareExchange(ref _failure, failure, null);
        Interlocked.Increment(ref _fallbacks);
        LogDeviceFailed(name, job, failure.Device, failure.Error, failure.InnerException);
    }

    /// <summary>"device D is out of use since it failed: E; restart the worker to use it again".</summary>
    public static string OutOfUse(TrainingDeviceException failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return $"device {failure.Device} is out of use since it failed: {failure.Error}; restart the worker to use it again";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model '{Name}': retraining job {Job} failed on device {Device} ({Error}); it trains again on the CPU from its start, and the device is out of use until the silo restarts")]
    private partial void LogDeviceFailed(string name, string job, string device, string error, Exception? exception);
}
