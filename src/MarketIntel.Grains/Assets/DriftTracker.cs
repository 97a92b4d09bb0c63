using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features.Quality;
using MarketIntel.Grains.Drift;
using MarketIntel.Inference;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// An asset's drift: for the served version (the lineup's position 0) a sliding <see cref="DriftWindow"/> over the
/// last <see cref="DriftOptions.Window"/> bars of the version's inputs and prediction, counted into the bins of the
/// version's <see cref="ReferenceProfile"/>, and started afresh whenever the served version changes. Every
/// <see cref="DriftOptions.EvaluateEveryBars"/> bars (and at each flush) it evaluates the window
/// (<see cref="DriftEvaluation"/>), reports the result to the silo's <see cref="DriftMetrics"/> and says when the asset
/// starts or stops drifting. It also judges the asset's bars' quality (<see cref="BarQuality"/>) and counts its
/// rejected bars by reason. Per bar it only writes into arrays sized when the version or its reference changes. Not
/// thread-safe: the asset's grain is its one caller.
/// </summary>
internal sealed class DriftTracker(string asset, DriftOptions options, BarQualityOptions qualityOptions, DriftMetrics metrics)
{
    private readonly BarQuality _quality = new(qualityOptions);
    private ModelRef? _served;
    private Model? _loaded;
    private string _status = options.Enabled ? DriftStatus.NoModel : DriftStatus.Disabled;
    private FeatureReference[] _series = [];
    private int[] _inputs = [];          // the model input of each profile feature
    private bool _withPrediction;        // the window's last series is the prediction
    private DriftWindow? _window;
    private DriftEvaluation.CountsOf? _counts;
    private float[] _values = [];        // one bar's values, in the window's series order
    private int _sinceEvaluation;
    private bool _reported;              // the silo's metrics hold this asset's evaluation of the served version
    private bool _drifting;              // as last evaluated
    private long _rejected;
    private Dictionary<string, long>? _rejectedBy;

    /// <summary>Whether the served version's bars are being counted (drift is on and the version has a usable reference).</summary>
    public bool Counting => _window is not null;

    /// <summary>Whether the served version's reference is still to be found (looked up again each batch: one may be given later).</summary>
    public bool WantsReference => _status == DriftStatus.NoReference;

    /// <summary>Whether the window was drifting when last evaluated (false while warming up or not counting).</summary>
    public bool Drifting => _drifting;

    /// <summary>The version tracked, or null when the asset has no model.</summary>
    public ModelRef? Served => _served;

    /// <summary>Whether the window changed since <see cref="TakeCounts"/> last ran.</summary>
    public bool Changed { get; private set; }

    /// <summary>
    /// Tracks <paramref name="served"/> (loaded as <paramref name="loaded"/>; null: the asset has no model) from now on.
    /// The same version again changes nothing; another one empties the window, and returns a crossing out of drift of
    /// the version left when it was drifting.
    /// </summary>
    public DriftCrossing? Serve(ModelRef? served, Model? loaded)
    {
        if (Equals(served, _served) && ReferenceEquals(loaded, _loaded))
        {
            return null;
        }
        DriftCrossing? left = _drifting && _served is { } before ? new DriftCrossing(before, false, [], 0, double.NaN) : null;
        Withdraw();
        _drifting = false;
        _served = served;
        _loaded = loaded;
        _window = null;
        _counts = null;
        _series = [];
        _status = !options.Enabled ? DriftStatus.Disabled : served is null ? DriftStatus.NoModel : DriftStatus.NoReference;
        return left;
    }

    /// <summary>
    /// The served version's reference profile: the window starts counting when it describes the model's inputs (each of
    /// its features one of the model's named inputs, or, for a model without names, one profile feature per input).
    /// </summary>
    public void Reference(ReferenceProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (_loaded is null || _status != DriftStatus.NoReference)
        {
            return;
        }
        if (Inputs(profile, _loaded) is not { } inputs)
        {
            _status = DriftStatus.ReferenceMismatch;
            return;
        }
        _inputs = inputs;
        _series = DriftScanner.Series(profile);
        _withPrediction = profile.Prediction is not null;
        _values = new float[_series.Length];
        DriftWindow window = new(_series, options.Window);
        _window = window;
        _counts = (int series, out int missing) =>
        {
            missing = window.Missing(series);
            return window.Counts(series);
        };
        _sinceEvaluation = 0;
        _status = DriftStatus.WarmingUp;
    }

    // The model input each profile feature reads, or null when the profile is not of this model's inputs.
    private static int[]? Inputs(ReferenceProfile profile, Model model)
    {
        if (profile.Features.Count == 0 && profile.Prediction is null)
        {
            return null;
        }
        if (model.FeatureNames is not { } names)
        {
            return profile.Features.Count == model.FeatureCount ? [.. Enumerable.Range(0, model.FeatureCount)] : null;
        }
        var inputs = new int[profile.Features.Count];
        for (int f = 0; f < inputs.Length; f++)
        {
            inputs[f] = IndexOf(names, profile.Features[f].Name);
            if (inputs[f] < 0)
            {
                return null;
            }
        }
        return inputs;
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (string.Equals(names[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// One bar's inputs of the served version (one per model input) and its prediction, counted into the window.
    /// Returns a crossing when the evaluation this bar was due for found the asset starting or stopping to drift.
    /// </summary>
    public DriftCrossing? Observe(ReadOnlySpan<float> inputs, float prediction)
    {
        if (_window is null)
        {
            return null;
        }
        int[] map = _inputs;
        Span<float> values = _values;
        for (int f = 0; f < map.Length; f++)
        {
            values[f] = inputs[map[f]];
        }
        if (_withPrediction)
        {
            values[^1] = prediction;
        }
        _window.Add(values);
        Changed = true;
        return ++_sinceEvaluation >= options.EvaluateEveryBars ? Evaluate() : null;
    }

    /// <summary>
    /// Evaluates the window: reports a full one to the silo's metrics, and returns a crossing when the asset started or
    /// stopped drifting since the last evaluation (only a full window is judged).
    /// </summary>
    public DriftCrossing? Evaluate()
    {
        _sinceEvaluation = 0;
        if (_window is not { } window || _served is not { } served)
        {
            return null;
        }
        bool full = window.Count == window.Length;
        _status = full ? DriftStatus.Ok : DriftStatus.WarmingUp;
        int n = _series.Length;
        Span<FeatureDrift> drift = n <= 64 ? stackalloc FeatureDrift[n] : new FeatureDrift[n];
        Span<bool> drifting = n <= 256 ? stackalloc bool[n] : new bool[n];
        int flagged = DriftEvaluation.Evaluate(_series, _counts!, options.Alpha, full, drift, drifting);
        if (!full)
        {
            Withdraw();
            return null;
        }
        double worst = double.NaN;
        foreach (FeatureDrift d in drift)
        {
            worst = double.IsNaN(worst) || d.Psi > worst ? d.Psi : worst;
        }
        metrics.Report(served, asset, new DriftMetrics.Evaluation(flagged, worst));
        _reported = true;
        bool now = flagged > 0;
        if (now == _drifting)
        {
            return null;
        }
        _drifting = now;
        var names = new List<string>(flagged);
        for (int s = 0; s < n; s++)
        {
            if (drifting[s])
            {
                names.Add(_series[s].Name);
            }
        }
        return new DriftCrossing(served, now, names, n, worst);
    }

    /// <summary>Takes the asset out of the silo's drift metrics (the grain goes).</summary>
    public void Withdraw()
    {
        if (_reported && _served is { } served)
        {
            metrics.Withdraw(served, asset);
        }
        _reported = false;
    }

    /// <summary>An accepted bar, applied to the series: its time (after the previous bar's) and close, for the quality detectors.</summary>
    public void BarArrived(long timestampMs, double close) => _quality.Observe(timestampMs, close);

    /// <summary>Counts a call's rejected bars by reason kind.</summary>
    public void Rejected(IReadOnlyList<string>? rejectedKinds)
    {
        if (rejectedKinds is null)
        {
            return;
        }
        _rejectedBy ??= new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string kind in rejectedKinds)
        {
            _rejectedBy[kind] = _rejectedBy.GetValueOrDefault(kind) + 1;
            _rejected++;
        }
    }

    /// <summary>The window's counts, to be stored (null when nothing is counted); <see cref="Changed"/> is false until the next bar.</summary>
    public DriftCounts? TakeCounts()
    {
        Changed = false;
        if (_window is not { } window || _served is not { } served)
        {
            return null;
        }
        return DriftScanner.Stored(asset, served, window);
    }

    /// <summary>Marks the window changed again (a write of it failed).</summary>
    public void MarkChanged() => Changed = true;

    /// <summary>The asset's drift as it stands, with the concept drift worked out by the caller.</summary>
    public AssetDrift Report(ConceptDrift? concept)
    {
        BarQualityReport bars = _quality.Snapshot();
        var quality = new DataQuality(bars.Bars, _rejected, _rejectedBy is null ? new Dictionary<string, long>() : new Dictionary<string, long>(_rejectedBy),
            bars.UsualIntervalMs, bars.Gaps, bars.StaleRuns, bars.CurrentStaleBars, bars.Spikes,
            [.. bars.Recent.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Kind} at {DateTimeOffset.FromUnixTimeMilliseconds(f.AtMs):O}: {f.Detail}"))]);
        if (_window is not { } window)
        {
            return new AssetDrift(asset, _served, _status, options.Window, 0, [], null, quality, concept);
        }
        bool full = window.Count == window.Length;
        SeriesDrift[] described = DriftEvaluation.Describe(_series, _counts!, options.Alpha, full);
        return new AssetDrift(asset, _served, full ? DriftStatus.Ok : DriftStatus.WarmingUp, window.Length, window.Count,
            _withPrediction ? described[..^1] : described, _withPrediction ? described[^1] : null, quality, concept);
    }

    /// <summary>
    /// The served version's live scores (<paramref name="live"/>, null when none) against its validation accuracy and
    /// log loss (NaN where the lineage has none): decayed when the one-sided binomial test of the live hits against the
    /// validation accuracy rejects at <paramref name="alpha"/>.
    /// </summary>
    public static ConceptDrift Concept(OutcomeTally? live, double validationAccuracy, double validationLogLoss, double alpha)
    {
        long n = live?.Outcomes ?? 0;
        long hits = live?.Hits ?? 0;
        double accuracy = n == 0 ? double.NaN : (double)hits / n;
        double logLoss = n == 0 || live!.Kind != Features.LabelKind.Direction ? double.NaN : live.LogLossSum / n;
        double p = n == 0 || !(validationAccuracy is >= 0 and <= 1) ? double.NaN : Binomial.Cdf(hits, n, validationAccuracy);
        return new ConceptDrift(n, accuracy, logLoss, validationAccuracy, validationLogLoss, p, p < alpha);
    }
}

/// <summary>
/// An asset started (<see cref="Drifting"/>) or stopped drifting for <see cref="Model"/>: the series flagged at that
/// evaluation out of the <see cref="Evaluated"/> it evaluated (0 when it evaluated none, as when the served version
/// changed), and the worst PSI (NaN when left unknown).
/// </summary>
internal sealed record DriftCrossing(ModelRef Model, bool Drifting, IReadOnlyList<string> Series, int Evaluated, double WorstPsi);
