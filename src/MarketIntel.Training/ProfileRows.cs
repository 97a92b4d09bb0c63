using MarketIntel.Training.Drift;

namespace MarketIntel.Training;

/// <summary>
/// A model version's reference profile from rows laid out one after another (as a training matrix and a
/// feature-matrix CSV hold them), for <c>train</c>, <c>backtest</c> and the registry's profile uploads alike.
/// </summary>
public static class ProfileRows
{
    /// <summary>
    /// The profile of <paramref name="rows"/> (row-major, <paramref name="names"/>.Count values a row, NaN = missing)
    /// and, when given, the model's prediction on each row.
    /// </summary>
    /// <exception cref="ArgumentException">The rows are not whole rows of the names, or a value is infinite.</exception>
    public static ReferenceProfile Build(IReadOnlyList<string> names, ReadOnlySpan<float> rows, float[]? predictions, string source, int bins = ProfileBuilder.DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(names);
        int width = names.Count;
        if (width == 0 ? rows.Length != 0 : rows.Length % width != 0)
        {
            throw new ArgumentException($"profile: {rows.Length} values are not whole rows of {width} features");
        }
        int count = width == 0 ? predictions?.Length ?? 0 : rows.Length / width;
        var columns = new float[width][];
        for (int f = 0; f < width; f++)
        {
            var column = new float[count];
            for (int r = 0; r < count; r++)
            {
                column[r] = rows[(r * width) + f];
            }
            columns[f] = column;
        }
        return ProfileBuilder.Build(names, columns, predictions, source, bins);
    }

    /// <summary>The trained model's prediction on each of <paramref name="rows"/> (row-major, the model's features a row).</summary>
    public static float[] Predictions(BoostedTrees model, ReadOnlySpan<float> rows)
    {
        ArgumentNullException.ThrowIfNull(model);
        int width = model.FeatureNames.Count;
        var predictions = new float[width == 0 ? 0 : rows.Length / width];
        for (int r = 0; r < predictions.Length; r++)
        {
            predictions[r] = (float)model.Predict(rows.Slice(r * width, width));
        }
        return predictions;
    }
}
