using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// Whether a drift alarm asks for a retraining job (configuration key <c>Grid:Retraining:Triggers:Drift</c>). The
/// section is shared with the other automatic triggers' settings; each class binds the keys it knows.
/// </summary>
public sealed class DriftTriggerOptions
{
    /// <summary>The configuration section a host binds these options from.</summary>
    public const string Section = "Grid:Retraining:Triggers";

    /// <summary>
    /// When an asset's drift alarm is raised, send its model name a Drift request ("ASSET: k of n series drifting").
    /// The coordinator debounces, so many assets raising alarms at once start one job.
    /// </summary>
    public bool Drift { get; set; } = true;
}

/// <summary>
/// Checks <see cref="DriftTriggerOptions"/> at start. A switch has no wrong value once bound (a value that is not
/// true or false fails in the binder, naming the key), so this validator only makes the options part of the start's
/// checks, as every options class is.
/// </summary>
public sealed class DriftTriggerOptionsValidator : IValidateOptions<DriftTriggerOptions>
{
    public ValidateOptionsResult Validate(string? name, DriftTriggerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ValidateOptionsResult.Success;
    }
}
