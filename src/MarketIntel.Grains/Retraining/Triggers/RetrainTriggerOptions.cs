using System.Globalization;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// The automatic retraining triggers the retraining watch checks on a worker silo (configuration section
/// <c>Grid:Retraining:Triggers</c>): the scheduled drift scan, the served version's score decay and the volume of new
/// bars. Each check asks for a job through <c>IRetrainTriggers</c>; the model's coordinator debounces.
/// </summary>
public sealed class RetrainTriggerOptions
{
    /// <summary>The configuration section a host binds these options from.</summary>
    public const string Section = "Grid:Retraining:Triggers";

    /// <summary>
    /// How often the watch runs its checks (once per interval in the cluster, whichever silos ask). Drift windows and
    /// score tallies reach their stores every <c>Grid:Drift:FlushInterval</c> and <c>Grid:Scoring:FlushInterval</c>, so
    /// checking much more often finds nothing new.
    /// </summary>
    public TimeSpan ScanEvery { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The fewest assets of a model name whose drift windows must drift (a full window with at least one series flagged)
    /// for the scan to ask for a Drift job.
    /// </summary>
    public int DriftingAssets { get; set; } = 1;

    /// <summary>When the served version's live score asks for a job (off unless a threshold is set).</summary>
    public ScoreDecayOptions ScoreDecay { get; set; } = new();

    /// <summary>
    /// New bars a model name's assets take (counted by its served versions' scored outcomes) since its last job that
    /// ask for a BarVolume job; 0: off.
    /// </summary>
    public long BarVolume { get; set; }
}

/// <summary>The score decay trigger (section <c>Grid:Retraining:Triggers:ScoreDecay</c>).</summary>
public sealed class ScoreDecayOptions
{
    /// <summary>
    /// A direction model (label <c>up_K</c>) decays when its live accuracy (hits / outcomes since it began serving) is
    /// below this; null: not checked.
    /// </summary>
    public double? Below { get; set; }

    /// <summary>
    /// A log-return model (label <c>logret_K</c>) decays when its live mean squared error since it began serving is
    /// above this (an error measure falls as the model improves, so its threshold is a ceiling); null: not checked.
    /// </summary>
    public double? ErrorAbove { get; set; }

    /// <summary>
    /// The fewest outcomes scored since the version began serving before its score is judged: a few dozen outcomes
    /// say little about a hit rate (the standard error of an accuracy near 0.5 on 500 outcomes is about 0.022).
    /// </summary>
    public long MinOutcomes { get; set; } = 500;
}

/// <summary>Checks <see cref="RetrainTriggerOptions"/> at start, naming every setting at fault.</summary>
public sealed class RetrainTriggerOptionsValidator : IValidateOptions<RetrainTriggerOptions>
{
    public ValidateOptionsResult Validate(string? name, RetrainTriggerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = RetrainTriggerOptions.Section;
        var failures = new List<string>();
        if (options.ScanEvery < TimeSpan.FromSeconds(1) || options.ScanEvery > TimeSpan.FromDays(1))
        {
            failures.Add(Text($"{section}:ScanEvery {options.ScanEvery} must be between 00:00:01 and 1.00:00:00"));
        }
        if (options.DriftingAssets < 1)
        {
            failures.Add(Text($"{section}:DriftingAssets {options.DriftingAssets} must be at least 1"));
        }
        if (options.BarVolume < 0)
        {
            failures.Add(Text($"{section}:BarVolume {options.BarVolume} must be 0 (off) or a number of bars"));
        }
        if (options.ScoreDecay is null)
        {
            failures.Add($"{section}:ScoreDecay must not be empty");
            return ValidateOptionsResult.Fail(failures);
        }
        if (options.ScoreDecay.Below is { } below && !(below is > 0 and <= 1))
        {
            failures.Add(Text($"{section}:ScoreDecay:Below {below} must be an accuracy above 0 and at most 1"));
        }
        if (options.ScoreDecay.ErrorAbove is { } above && !(above > 0 && double.IsFinite(above)))
        {
            failures.Add(Text($"{section}:ScoreDecay:ErrorAbove {above} must be a mean squared error above 0"));
        }
        if (options.ScoreDecay.MinOutcomes < 1)
        {
            failures.Add(Text($"{section}:ScoreDecay:MinOutcomes {options.ScoreDecay.MinOutcomes} must be at least 1"));
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
