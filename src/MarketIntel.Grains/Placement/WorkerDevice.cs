using System.Globalization;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace MarketIntel.Grains.Placement;

/// <summary>
/// What a silo runs jobs on, as it advertises it in its silo metadata: the device (<c>cpu:16</c>: 16 cores; or the GPU
/// <c>serve --device</c> chose, <c>cuda:NAME (N GiB)</c>) and how many jobs it takes at once. <see cref="RolePlacementDirector"/> places each job
/// on the worker with the most free job slots.
/// </summary>
/// <param name="Device">The device, as <c>KIND:WHAT</c> (<c>cpu:16</c>, <c>cuda:NVIDIA H200 (139 GiB)</c>).</param>
/// <param name="JobSlots">How many jobs the silo takes at once before another worker is preferred.</param>
public sealed record WorkerDevice(string Device, int JobSlots)
{
    /// <summary>The silo metadata key of the device.</summary>
    public const string DeviceKey = "marketintel.device";

    /// <summary>The silo metadata key of the job slots.</summary>
    public const string JobSlotsKey = "marketintel.job-slots";

    /// <summary>
    /// The job slots of a CPU with <paramref name="cores"/> cores when <c>Grid:Retraining:MaxJobsPerWorker</c> is not
    /// set: a quarter of the cores, at least one, since one job's booster spreads each tree level over several cores.
    /// </summary>
    public static int DefaultJobSlots(int cores) => Math.Max(1, cores / 4);

    /// <summary>A CPU of <paramref name="cores"/> cores taking <paramref name="maxJobs"/> jobs at once (unset: <see cref="DefaultJobSlots"/>).</summary>
    public static WorkerDevice Cpu(int cores, int? maxJobs = null) =>
        new($"cpu:{cores.ToString(CultureInfo.InvariantCulture)}", maxJobs ?? DefaultJobSlots(cores));

    /// <summary>
    /// An accelerator described as <paramref name="description"/> (e.g. <c>cuda:NVIDIA H200 (139 GiB)</c>), taking
    /// <paramref name="maxJobs"/> jobs at once (unset: one, since a job's kernels take the whole device).
    /// </summary>
    public static WorkerDevice Accelerator(string description, int? maxJobs = null) => new(description, maxJobs ?? 1);

    /// <summary>This machine's CPU, as far as this process may use it.</summary>
    public static WorkerDevice ThisMachine(int? maxJobs = null) => Cpu(Environment.ProcessorCount, maxJobs);

    /// <summary>The metadata entries a silo publishes.</summary>
    public IEnumerable<KeyValuePair<string, string>> Metadata =>
    [
        new(DeviceKey, Device),
        new(JobSlotsKey, JobSlots.ToString(CultureInfo.InvariantCulture)),
    ];

    /// <summary>The job slots a silo published; null when its metadata has none (not yet arrived, or an older silo).</summary>
    public static int? JobSlotsIn(SiloMetadata published)
    {
        ArgumentNullException.ThrowIfNull(published);
        return published.Metadata.TryGetValue(JobSlotsKey, out string? text)
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int slots) ? slots : null;
    }

    /// <summary>As the serve banner and the docs show it: <c>cpu:16, 4 jobs at once</c>.</summary>
    public override string ToString() => $"{Device}, {JobSlots.ToString(CultureInfo.InvariantCulture)} job{(JobSlots == 1 ? "" : "s")} at once";
}

/// <summary>How many jobs a worker silo takes at once (configuration section <c>Grid:Retraining</c>).</summary>
public sealed class WorkerSlotsOptions
{
    /// <summary>The configuration section a host binds these options from.</summary>
    public const string Section = "Grid:Retraining";

    /// <summary>The most jobs this silo runs at once before another worker is preferred; unset: from the cores (<see cref="WorkerDevice.DefaultJobSlots"/>).</summary>
    public int? MaxJobsPerWorker { get; set; }
}

/// <summary>Checks <see cref="WorkerSlotsOptions"/> at start.</summary>
public sealed class WorkerSlotsOptionsValidator : IValidateOptions<WorkerSlotsOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, WorkerSlotsOptions options) =>
        options?.MaxJobsPerWorker is { } slots && slots is < 1 or > 1024
            ? ValidateOptionsResult.Fail($"{WorkerSlotsOptions.Section}:MaxJobsPerWorker {slots} must be between 1 and 1024 (leave it unset for one job per four cores)")
            : ValidateOptionsResult.Success;
}
