namespace MarketIntel.Training.Devices;

/// <summary>
/// A device a process lends to its training jobs (a worker silo's GPU): each job takes it for its whole training and
/// gets an <see cref="IHistogramDevice"/> for <see cref="GradientBooster.Train"/>. Implementations live outside this
/// library (MarketIntel.Gpu); a process without one trains on the CPU.
/// </summary>
public interface ITrainingDevice
{
    /// <summary>One line naming the device, e.g. <c>cuda:NVIDIA H200 (139 GiB)</c>.</summary>
    string Device { get; }

    /// <summary>
    /// Takes the device for one job, waiting while another job holds it. Disposing the answer frees what the job
    /// left on the device and gives it to the next job.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired while waiting.</exception>
    IHistogramDevice Take(CancellationToken cancellation);
}
