using MarketIntel.Features;
using MarketIntel.Features.Quality;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains;

/// <summary>How every asset grain computes and keeps its features (configuration section <c>Grid</c> in the host).</summary>
public sealed class GridOptions
{
    /// <summary>The configuration section a host binds these options from.</summary>
    public const string Section = "Grid";

    /// <summary>The feature spec every asset computes (plus whatever its model needs).</summary>
    public string Features { get; set; } =
        "sma_20,ema_20,wma_10,rsi_14,atr_14,macd_12_26_9,macdsignal_12_26_9,bbpctb_20_2,bbwidth_20_2,roc_10," +
        "stochk_14_3,stochd_14_3,obv,logretsd_20,cci_20,adx_14,wpr_14,mfi_14,vwap_20,zscore_20";

    /// <summary>
    /// How many recent bars each asset keeps (48 bytes each), for duplicate detection and for rebuilding features
    /// a newly assigned model adds. 128 covers the warm-up of windows up to about 100 bars and keeps an active
    /// asset grain near 17 KiB in all (docs/performance.md); raise it where models use longer windows.
    /// </summary>
    public int HistoryLength { get; set; } = 128;

    /// <summary>
    /// How long the empty activation of an unknown asset (one asked for but never fed) stays after its first
    /// NOT_FOUND answer before it is let go. Letting it go at once made every request in a burst for the same
    /// unknown symbol reactivate the grain.
    /// </summary>
    public TimeSpan UnknownAssetLinger { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How far ahead of the silo's clock a bar's time may be (clocks drift, and a bar may be stamped with its
    /// close). A bar further ahead is rejected: accepted, it would make every real bar after it look old.
    /// </summary>
    public TimeSpan FutureTolerance { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// The most assets one silo holds. An active asset grain takes about 15 KiB (docs/performance.md), so the default
    /// bounds them near 1.5 GiB; a new asset beyond it is refused with RESOURCE_EXHAUSTED.
    /// </summary>
    public int MaxActiveAssets { get; set; } = 100_000;

    /// <summary>The most values a pushed feature vector may have.</summary>
    public int MaxFeatureVectorLength { get; set; } = 10_000;

    /// <summary>
    /// In cluster mode, an asset keeps a checkpoint of its feature state every this many accepted bars (0: never), so
    /// an activation replays only the bars after the latest one instead of the asset's whole archive.
    /// </summary>
    public int CheckpointEveryBars { get; set; } = 10_000;

    /// <summary>Live outcome scoring and shadow models (section <c>Grid:Scoring</c>).</summary>
    public ScoringOptions Scoring { get; set; } = new();

    /// <summary>Drift tracking of each asset's served version (section <c>Grid:Drift</c>).</summary>
    public Drift.DriftOptions Drift { get; set; } = new();

    /// <summary>How asset grains judge their bars' quality: gaps, stale prices, spikes (section <c>Grid:Quality</c>).</summary>
    public BarQualityOptions Quality { get; set; } = new();
}

/// <summary>How asset grains predict with shadow versions and score every version's predictions against what followed.</summary>
public sealed class ScoringOptions
{
    /// <summary>
    /// Whether asset grains predict with shadow versions and score predictions on every bar. Off, a bar costs what it
    /// did before scoring existed, and shadows are not run (scoring is what they are for).
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How often an asset grain writes its tallies to the score store (when they changed), off the path of its bars;
    /// it also writes them as it deactivates. Cluster totals lag the grains by about this much.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The longest horizon (bars ahead) scored: each scored version keeps this many pending predictions per asset at
    /// most, 4 bytes each. A version whose label looks further ahead is not scored.
    /// </summary>
    public int MaxHorizon { get; set; } = 1024;
}

/// <summary>Checks <see cref="GridOptions"/> at start (section <c>Grid</c>), naming every setting at fault.</summary>
public sealed class GridOptionsValidator : IValidateOptions<GridOptions>
{
    public ValidateOptionsResult Validate(string? name, GridOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        try
        {
            FeatureSet.Parse(options.Features);
        }
        catch (FeatureSpecException e)
        {
            failures.Add($"Grid:Features: {e.Message}");
        }
        if (options.HistoryLength is < 1 or > 1_000_000)
        {
            failures.Add($"Grid:HistoryLength {options.HistoryLength} must be between 1 and 1000000");
        }
        if (options.UnknownAssetLinger < TimeSpan.Zero || options.UnknownAssetLinger > TimeSpan.FromDays(1))
        {
            failures.Add($"Grid:UnknownAssetLinger {options.UnknownAssetLinger} must be between 00:00:00 and 1.00:00:00");
        }
        if (options.MaxActiveAssets < 1)
        {
            failures.Add($"Grid:MaxActiveAssets {options.MaxActiveAssets} must be at least 1");
        }
        if (options.MaxFeatureVectorLength is < 1 or > 10_000_000)
        {
            failures.Add($"Grid:MaxFeatureVectorLength {options.MaxFeatureVectorLength} must be between 1 and 10000000");
        }
        if (options.CheckpointEveryBars < 0)
        {
            failures.Add($"Grid:CheckpointEveryBars {options.CheckpointEveryBars} must be 0 (never) or more");
        }
        if (options.FutureTolerance < TimeSpan.Zero || options.FutureTolerance > TimeSpan.FromDays(3650))
        {
            failures.Add($"Grid:FutureTolerance {options.FutureTolerance} must be between 00:00:00 and 3650.00:00:00");
        }
        if (options.Scoring is null)
        {
            failures.Add("Grid:Scoring must not be empty");
        }
        else
        {
            if (options.Scoring.FlushInterval < TimeSpan.FromMilliseconds(10) || options.Scoring.FlushInterval > TimeSpan.FromHours(1))
            {
                failures.Add($"Grid:Scoring:FlushInterval {options.Scoring.FlushInterval} must be between 00:00:00.010 and 01:00:00");
            }
            if (options.Scoring.MaxHorizon is < 1 or > 100_000)
            {
                failures.Add($"Grid:Scoring:MaxHorizon {options.Scoring.MaxHorizon} must be between 1 and 100000");
            }
        }
        if (options.Drift is null)
        {
            failures.Add("Grid:Drift must not be empty");
        }
        else
        {
            failures.AddRange(options.Drift.Failures());
        }
        if (options.Quality is null)
        {
            failures.Add("Grid:Quality must not be empty");
        }
        else
        {
            failures.AddRange(options.Quality.Problems("Grid:Quality"));
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
