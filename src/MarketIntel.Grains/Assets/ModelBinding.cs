using MarketIntel.Abstractions;
using MarketIntel.Features;
using MarketIntel.Features.Series;
using MarketIntel.Inference;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// Where each model's inputs come from for one asset, worked out once per model rather than on every prediction: a
/// model whose every feature name follows the feature grammar is fed the series' computed features (by index, adding
/// those the spec lacks), any other the pushed vector. Each model an asset predicts with (the served version and its
/// shadows) has its own entry, since a shadow may take other features. Fills a model's input span, or says why it cannot.
/// </summary>
internal sealed class ModelBinding(string asset, AssetSeries series)
{
    // One entry per model bound since the spec was last loaded; an asset predicts with a handful of models at most,
    // so a scan by reference beats a dictionary, and an array of exactly that many is the least memory per grain.
    private Entry[] _entries = [];

    /// <summary>Forgets every model worked out, so that each is worked out again (the spec was reloaded).</summary>
    public void Reset() => _entries = [];

    /// <summary>
    /// Works out <paramref name="model"/>'s inputs unless they are already; a model fed computed features may grow the
    /// series' spec (see <see cref="AssetSeries.EnsureFeatures"/>). Indices worked out earlier stay right: the spec
    /// only grows at its end.
    /// </summary>
    public void Bind(Model model) => Find(model);

    /// <summary>Forgets the models not in <paramref name="kept"/> (they no longer serve nor shadow this asset).</summary>
    public void Keep(IReadOnlyList<Model> kept) => _entries = [.. _entries.Where(e => kept.Contains(e.Model))];

    private Entry Find(Model model)
    {
        foreach (Entry entry in _entries)
        {
            if (ReferenceEquals(entry.Model, model))
            {
                return entry;
            }
        }
        int[]? indices = null;
        if (UsesComputedFeatures(model))
        {
            series.EnsureFeatures(model.FeatureNames!);
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            int i = 0;
            foreach (string name in series.Spec.Names)
            {
                index[name] = i++;
            }
            indices = model.FeatureNames!.Select(n => index[n]).ToArray();
        }
        var added = new Entry(model, indices);
        _entries = [.. _entries, added];
        return added;
    }

    /// <summary>
    /// Fills <paramref name="inputs"/> (one slot per model input) for <paramref name="model"/> from the computed features
    /// (undefined ones, still warming up, are missing values) or the pushed vector; false when it cannot (see
    /// <see cref="WhyNot"/>). The series' values must be computed for its spec (no replay pending).
    /// </summary>
    public bool TryFill(Model model, float[]? pushed, Span<float> inputs)
    {
        if (Find(model).Indices is { } indices)
        {
            if (!series.HasBars)
            {
                return false;
            }
            ReadOnlySpan<double> values = series.Values;
            for (int i = 0; i < inputs.Length; i++)
            {
                inputs[i] = (float)values[indices[i]];
            }
            return true;
        }
        if (pushed is null || pushed.Length != model.FeatureCount)
        {
            return false;
        }
        pushed.CopyTo(inputs);
        return true;
    }

    /// <summary>Why <see cref="TryFill"/> could not fill the inputs of <paramref name="loaded"/>, registered as <paramref name="model"/>.</summary>
    public string WhyNot(ModelRef model, Model loaded, float[]? pushed) =>
        Find(loaded).Indices is not null ? $"{asset}: model {model} is fed computed features and the asset has no bars yet"
            : pushed is null ? $"{asset}: model {model} takes {loaded.FeatureCount} pushed features and none were pushed"
            : $"{asset}: model {model} takes {loaded.FeatureCount} features, the pushed vector has {pushed.Length}";

    /// <summary>The time <paramref name="model"/>'s inputs are as of: the last bar's, or the pushed vector's (<paramref name="pushedAt"/>).</summary>
    public long AsOf(Model model, long pushedAt) => FromSeries(model) ? series.LastTimestamp : pushedAt;

    /// <summary>
    /// Whether <paramref name="a"/> and <paramref name="b"/> are filled with the same values on every bar: both take the
    /// same computed features in the same order, or both take the whole pushed vector (of the same length).
    /// </summary>
    public bool SameInputs(Model a, Model b)
    {
        int[]? first = Find(a).Indices, second = Find(b).Indices;
        return first is null == second is null && a.FeatureCount == b.FeatureCount
            && (first is null || first.AsSpan().SequenceEqual(second));
    }

    /// <summary>Whether <paramref name="model"/>'s inputs are the series' computed features (else the pushed vector).</summary>
    public bool FromSeries(Model model) => Find(model).Indices is not null;

    private static bool UsesComputedFeatures(Model model) =>
        model.FeatureNames is { } names && names.All(IsFeatureName);

    private static bool IsFeatureName(string name)
    {
        try
        {
            FeatureDefinition.Parse(name);
            return true;
        }
        catch (FeatureSpecException)
        {
            return false;
        }
    }

    // Indices null: the model takes the pushed vector.
    private sealed record Entry(Model Model, int[]? Indices);
}
