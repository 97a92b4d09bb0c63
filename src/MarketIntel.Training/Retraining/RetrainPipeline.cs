using MarketIntel.Features;

namespace MarketIntel.Training.Retraining;

/// <summary>
/// What a retraining job trains: the feature spec and label (from the served version's lineage, or a request's
/// override), the booster's parameters, the walk-forward validation, and what goes into the new lineage.
/// </summary>
/// <param name="Name">The model name (for messages and the lineage).</param>
/// <param name="Spec">The feature spec text (FeatureSet.Parse).</param>
/// <param name="Label">The label: direction or log return, K bars ahead.</param>
/// <param name="Parameters">The booster's parameters.</param>
/// <param name="Folds">Walk-forward folds to validate on before the final model is trained on every row.</param>
/// <param name="ProfileBins">Quantile bins per series of the reference profile.</param>
/// <param name="Replaces">The version the new one is trained to replace (lineage <c>replaces</c>), or null.</param>
/// <param name="Tool">The lineage's <c>tool</c>, e.g. "marketintel retrain (job 1f3c...)".</param>
public sealed record RetrainPlan(string Name, string Spec, LabelDefinition Label, BoostParameters Parameters, int Folds, int ProfileBins, string? Replaces, string Tool);

/// <summary>One asset's archived bars, oldest first.</summary>
public sealed record AssetBars(string Asset, BarSeries Bars);

/// <summary>What a step of <see cref="RetrainPipeline.Run"/> has done: rows built, folds validated, rounds trained, scores measured.</summary>
public sealed record RetrainStep(int Rows, int FoldsDone, int Folds, int RoundsDone, int Rounds, IReadOnlyDictionary<string, double>? Validation);

/// <summary>A trained challenger: the XGBoost JSON model, its version (the first 12 hex digits of its SHA-256, as
/// <c>serve --model</c> names versions), its lineage JSON (with the reference profile) and the validation scores.</summary>
public sealed record RetrainOutput(byte[] Model, string Version, string Lineage, IReadOnlyDictionary<string, double> Validation, int Rows);

/// <summary>
/// The training half of a retraining job, with no grid in it: rows from every asset's bars, walk-forward validation,
/// the final model on all rows, and the lineage with the reference profile.
/// </summary>
public static class RetrainPipeline
{
    /// <summary>Trains a challenger per <paramref name="plan"/> on <paramref name="bars"/>, reporting each step; stops with
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellation"/> fires.</summary>
    /// <exception cref="ArgumentException">The bars give too few rows for the folds, or the plan is invalid; the message says which.</exception>
    public static RetrainOutput Run(RetrainPlan plan, IReadOnlyList<AssetBars> bars, IProgress<RetrainStep>? progress, CancellationToken cancellation) =>
        throw new NotImplementedException("retrain-pipeline branch implements this");
}
