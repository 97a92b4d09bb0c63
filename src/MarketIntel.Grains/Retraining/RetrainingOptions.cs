using System.Globalization;
using MarketIntel.Abstractions.Hosting;
using MarketIntel.Training.Drift;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining;

/// <summary>How retraining jobs are debounced, watched and sized (configuration section <c>Grid:Retraining</c>).</summary>
public sealed class RetrainingOptions
{
    /// <summary>The configuration section a host binds these options from.</summary>
    public const string Section = "Grid:Retraining";

    /// <summary>
    /// The least time between the starts of two jobs of one model (a manual request with force skips it). Drift alarms
    /// and decaying scores keep firing while a model is off; a new model every few minutes would never be shadow-scored
    /// long enough for the gate to judge it.
    /// </summary>
    public TimeSpan MinimumInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How often a coordinator with an active job tries again to hand a waiting job to a worker and asks a running job's
    /// grain whether it still runs (a job whose worker died is started again after about this long).
    /// </summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Walk-forward folds a job validates on before it trains the final model on every row.</summary>
    public int Folds { get; set; } = 4;

    /// <summary>Quantile bins per series of the challenger's reference profile (what drift is measured against).</summary>
    public int ProfileBins { get; set; } = 20;

    /// <summary>The most archived bars a job reads per asset: the most recent ones up to the job's <c>Through</c>.</summary>
    public int MaxBarsPerAsset { get; set; } = 50_000;

    /// <summary>
    /// The threads a job's booster trains with; 0: one per core the worker process may run on (its CPU affinity, as
    /// <c>taskset</c> or a container's cpuset sets it). A worker sharing a machine with a serving silo sets fewer, so that
    /// a job leaves the serving silo's cores alone.
    /// </summary>
    public int Threads { get; set; }

    /// <summary>
    /// On embedded defaults, the most recent bars the silo keeps per asset in memory (48 bytes each, so 20,000 bars
    /// take about 1 MB for an asset that has them) for jobs to train on; 0 keeps none, and a job then finds no bars.
    /// Cluster mode reads PostgreSQL's archive instead and ignores this.
    /// </summary>
    public int EmbeddedArchiveBars { get; set; } = 20_000;

    /// <summary>
    /// On embedded defaults, the most bars the in-memory archive keeps over all assets (2,000,000: about 96 MB). Once
    /// reached, assets keep their newest bars in the room they have and no asset's share grows.
    /// </summary>
    public long EmbeddedArchiveTotalBars { get; set; } = 2_000_000;
}

/// <summary>Checks <see cref="RetrainingOptions"/> at start, naming every setting at fault.</summary>
public sealed class RetrainingOptionsValidator : IValidateOptions<RetrainingOptions>
{
    public ValidateOptionsResult Validate(string? name, RetrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        void Check(bool ok, FormattableString failure)
        {
            if (!ok)
            {
                failures.Add($"{RetrainingOptions.Section}:{failure.ToString(CultureInfo.InvariantCulture)}");
            }
        }
        Check(options.MinimumInterval >= TimeSpan.Zero && options.MinimumInterval <= TimeSpan.FromDays(365),
            $"MinimumInterval {options.MinimumInterval} must be between 00:00:00 and 365.00:00:00");
        Check(options.CheckInterval >= TimeSpan.FromMilliseconds(10) && options.CheckInterval <= TimeSpan.FromHours(1),
            $"CheckInterval {options.CheckInterval} must be between 00:00:00.010 and 01:00:00");
        // Walk-forward needs a fold to train on before each it validates on.
        Check(options.Folds is >= 2 and <= 100, $"Folds {options.Folds} must be between 2 and 100");
        Check(options.ProfileBins is >= 2 and <= FeatureReference.MaxBins, $"ProfileBins {options.ProfileBins} must be between 2 and {FeatureReference.MaxBins}");
        Check(options.MaxBarsPerAsset is >= 1 and <= 10_000_000, $"MaxBarsPerAsset {options.MaxBarsPerAsset} must be between 1 and 10000000");
        Check(options.Threads is >= 0 and <= 1024, $"Threads {options.Threads} must be between 0 (one per core the process may use) and 1024");
        Check(options.EmbeddedArchiveBars is >= 0 and <= 10_000_000, $"EmbeddedArchiveBars {options.EmbeddedArchiveBars} must be between 0 (none kept) and 10000000");
        Check(options.EmbeddedArchiveTotalBars is >= 0 and <= 1_000_000_000, $"EmbeddedArchiveTotalBars {options.EmbeddedArchiveTotalBars} must be between 0 (none kept) and 1000000000");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Registers the retraining options in a silo.</summary>
public static class RetrainingHosting
{
    /// <summary>
    /// The retraining options, checked at start by <see cref="RetrainingOptionsValidator"/>; <paramref name="configureOptions"/>
    /// binds or sets them (a host binds section <see cref="RetrainingOptions.Section"/>). Registering again adds no second validator.
    /// </summary>
    public static IServiceCollection AddMarketIntelRetrainingOptions(this IServiceCollection services, Action<OptionsBuilder<RetrainingOptions>>? configureOptions = null)
    {
        services.AddCheckedOptions(new RetrainingOptionsValidator(), configureOptions);
        return services;
    }
}
