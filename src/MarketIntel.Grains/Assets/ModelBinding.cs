using MarketIntel.Abstractions;
using MarketIntel.Features;
using MarketIntel.Features.Series;
using MarketIntel.Inference;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// Where a model's inputs come from for one asset, worked out once per model rather than on every prediction: a
/// model whose every feature name follows the feature grammar is fed the series' computed features (by index, adding
/// those the spec lacks), any other the pushed vector. Fills a model's input span from them, or says why it cannot.
/// </summary>
internal sealed class ModelBinding(string asset, AssetSeries series)
{
    private Model? _model;    // the model _indices were worked out for
    private int[]? _indices;  // its inputs' indices into the series' values; null: it takes the pushed vector

    /// <summary>Forgets the model worked out last, so that the next one is worked out again (the spec was reloaded).</summary>
    public void Reset() => _model = null;

    /// <summary>
    /// Works out <paramref name="model"/>'s inputs unless they are already; a model fed computed features may grow the
    /// series' spec (see <see cref="AssetSeries.EnsureFeatures"/>).
    /// </summary>
    public void Bind(Model model)
    {
        if (ReferenceEquals(model, _model))
        {
            return;
        }
        _indices = null;
        if (UsesComputedFeatures(model))
        {
            series.EnsureFeatures(model.FeatureNames!);
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            int i = 0;
            foreach (string name in series.Spec.Names)
            {
                index[name] = i++;
            }
            _indices = model.FeatureNames!.Select(n => index[n]).ToArray();
        }
        _model = model;
    }

    /// <summary>
    /// Fills <paramref name="inputs"/> (one slot per model input) for <paramref name="model"/> from the computed features
    /// (undefined ones, still warming up, are missing values) or the pushed vector; false when it cannot (see
    /// <see cref="WhyNot"/>). The series' values must be computed for its spec (no replay pending).
    /// </summary>
    public bool TryFill(Model model, float[]? pushed, Span<float> inputs)
    {
        Bind(model);
        if (_indices is { } indices)
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
    public string WhyNot(ModelRef model, Model loaded, float[]? pushed)
    {
        Bind(loaded);
        return _indices is not null ? $"{asset}: model {model} is fed computed features and the asset has no bars yet"
            : pushed is null ? $"{asset}: model {model} takes {loaded.FeatureCount} pushed features and none were pushed"
            : $"{asset}: model {model} takes {loaded.FeatureCount} features, the pushed vector has {pushed.Length}";
    }

    /// <summary>The time the bound model's inputs are as of: the last bar's, or the pushed vector's (<paramref name="pushedAt"/>).</summary>
    public long AsOf(long pushedAt) => _indices is null ? pushedAt : series.LastTimestamp;

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
}
