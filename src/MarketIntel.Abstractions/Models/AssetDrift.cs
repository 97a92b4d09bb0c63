namespace MarketIntel.Abstractions.Models;

/// <summary>What an asset's drift report says about it as a whole (<see cref="AssetDrift.Status"/>).</summary>
public static class DriftStatus
{
    /// <summary>A full window compared with the served version's reference.</summary>
    public const string Ok = "ok";

    /// <summary>The asset has no model (no assignment and no default, or one that cannot be loaded).</summary>
    public const string NoModel = "no-model";

    /// <summary>The served version has no reference profile: nothing to compare with, so no statistics.</summary>
    public const string NoReference = "no-reference";

    /// <summary>
    /// The reference profile does not describe the served version's inputs (other names or another count). The registry
    /// refuses such profiles; a grain still checks, so that it never bins inputs against another model's references.
    /// </summary>
    public const string ReferenceMismatch = "reference-mismatch";

    /// <summary>The window holds fewer than its length of bars: statistics are shown, no feature is flagged yet.</summary>
    public const string WarmingUp = "warming-up";

    /// <summary>Drift tracking is turned off on the silo (Grid:Drift:Enabled).</summary>
    public const string Disabled = "disabled";
}

/// <summary>
/// The actions of the model events an asset grain sends when it starts or stops drifting (on the registry's event
/// fan-out, beside <see cref="ModelAudit"/>'s, but never stored in the audit log: a crossing is state that
/// <c>GET /drift</c> tells, and thousands of assets crossing back and forth would bury the log's changes).
/// The detail is <c>{"asset":..,"series":[names flagged],"worstPsi":..}</c>.
/// </summary>
public static class DriftEvents
{
    /// <summary>The asset's window for the version now has drifting series.</summary>
    public const string Raised = "drift-raised";

    /// <summary>It has none any more (or the asset no longer serves the version).</summary>
    public const string Cleared = "drift-cleared";
}

/// <summary>
/// One series' (a model input's, or the prediction's) window against its reference; statistics that cannot be
/// computed (an empty window) are NaN.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SeriesDrift(
    [property: Id(0)] string Name,
    [property: Id(1)] int Count,
    [property: Id(2)] double MissingRate,
    [property: Id(3)] double ReferenceMissingRate,
    [property: Id(4)] double Psi,
    [property: Id(5)] double JensenShannon,
    [property: Id(6)] double Wasserstein,
    [property: Id(7)] double ChiSquare,
    [property: Id(8)] int DegreesOfFreedom,
    [property: Id(9)] double PValue,
    [property: Id(10)] bool Drifting);

/// <summary>
/// An asset's bar quality since its grain's activation, as the bar quality detectors (MarketIntel.Features.Quality)
/// judge its accepted bars: the usual bar interval (0 until learned), gaps against it, runs of stale closes (and the
/// bars of the current one), spikes, and the latest findings in words (oldest first); and the bars its grain rejected
/// by reason (<c>timestamp</c>, <c>out-of-order</c>, <c>missing</c>, or <c>invalid-FIELD</c>).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DataQuality(
    [property: Id(0)] long Bars,
    [property: Id(1)] long Rejected,
    [property: Id(2)] IReadOnlyDictionary<string, long> RejectedByReason,
    [property: Id(3)] double UsualIntervalMs,
    [property: Id(4)] long Gaps,
    [property: Id(5)] long StaleRuns,
    [property: Id(6)] int CurrentStaleBars,
    [property: Id(7)] long Spikes,
    [property: Id(8)] IReadOnlyList<string> Findings)
{
    /// <summary>No bars seen: what a stored window, which keeps no quality, reports.</summary>
    public static DataQuality None { get; } = new(0, 0, new Dictionary<string, long>(), 0, 0, 0, 0, 0, []);
}

/// <summary>
/// The served version's live outcome scores against the validation metrics of its lineage: a one-sided binomial
/// test of live hits against the validation accuracy (<see cref="PValue"/>: the chance of so few hits or fewer were
/// the accuracy still the validation's). NaN where there is nothing to compare.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConceptDrift(
    [property: Id(0)] long Outcomes,
    [property: Id(1)] double LiveAccuracy,
    [property: Id(2)] double LiveLogLoss,
    [property: Id(3)] double ValidationAccuracy,
    [property: Id(4)] double ValidationLogLoss,
    [property: Id(5)] double PValue,
    [property: Id(6)] bool Decayed);

/// <summary>
/// One asset's drift as its grain holds it: the served version's inputs (<see cref="Features"/>, in the model's
/// order) and prediction over the last <see cref="Count"/> bars (of at most <see cref="Window"/>) against the version's
/// reference profile, each flagged by Benjamini-Hochberg across the asset's series; the bar quality; and the live
/// scores against the validation metrics.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AssetDrift(
    [property: Id(0)] string Asset,
    [property: Id(1)] ModelRef? Model,
    [property: Id(2)] string Status,
    [property: Id(3)] int Window,
    [property: Id(4)] int Count,
    [property: Id(5)] IReadOnlyList<SeriesDrift> Features,
    [property: Id(6)] SeriesDrift? Prediction,
    [property: Id(7)] DataQuality Quality,
    [property: Id(8)] ConceptDrift? Concept)
{
    /// <summary>Whether any input or the prediction is flagged as drifting.</summary>
    public bool Drifting => Features.Any(f => f.Drifting) || Prediction is { Drifting: true };
}

/// <summary>One series' counts in a stored window: per value bin of its reference, and how many were missing.</summary>
[GenerateSerializer, Immutable]
public sealed record SeriesCounts(
    [property: Id(0)] string Name,
    [property: Id(1)] IReadOnlyList<int> Counts,
    [property: Id(2)] int Missing);

/// <summary>
/// An asset's drift window as stored: the version it counts for, the window's length and fill, and each series'
/// counts (the model's inputs in order, then the prediction where the reference has one). Enough to evaluate every
/// statistic again against the version's reference profile, for the cluster-wide summary and the batch scan.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DriftCounts(
    [property: Id(0)] string Asset,
    [property: Id(1)] ModelRef Model,
    [property: Id(2)] int Window,
    [property: Id(3)] int Count,
    [property: Id(4)] IReadOnlyList<SeriesCounts> Series)
{
    /// <summary>Checks that the record describes a window, as stores do before they keep one.</summary>
    /// <exception cref="ArgumentException">The message names the asset and the field at fault.</exception>
    public void Check()
    {
        if (string.IsNullOrEmpty(Asset) || Model is null || Series is null)
        {
            throw new ArgumentException("drift counts need an asset, a model version and their series");
        }
        if (Window < 1 || Count < 0 || Count > Window)
        {
            throw new ArgumentException($"drift counts of {Asset}: count {Count} must be between 0 and the window {Window} (at least 1)");
        }
        foreach (SeriesCounts series in Series)
        {
            if (series is null || string.IsNullOrEmpty(series.Name) || series.Counts is null)
            {
                throw new ArgumentException($"drift counts of {Asset}: a series has no name or no counts");
            }
            long sum = series.Missing;
            foreach (int count in series.Counts)
            {
                sum += count;
                if (count < 0)
                {
                    throw new ArgumentException($"drift counts of {Asset}: series '{series.Name}' has a negative count");
                }
            }
            if (series.Missing < 0 || sum != Count)
            {
                throw new ArgumentException($"drift counts of {Asset}: series '{series.Name}' counts {sum} values with its missing ones, not the window's {Count}");
            }
        }
    }
}
