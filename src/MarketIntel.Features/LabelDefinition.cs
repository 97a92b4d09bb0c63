using System.Globalization;
using System.Text.Json;

namespace MarketIntel.Features;

/// <summary>What a row's label says about the bars after it.</summary>
public enum LabelKind
{
    /// <summary>1 when the close <c>k</c> bars later is above this bar's close, else 0 (a flat move is 0).</summary>
    Direction,

    /// <summary>ln(close[t+k] / close[t]).</summary>
    LogReturn,
}

/// <summary>
/// A training label named as a feature-matrix column: <c>up_K</c> (direction <c>K</c> bars ahead, 1 or 0) or
/// <c>logret_K</c> (log return <c>K</c> bars ahead). The one definition that <c>features --label</c> writes and the
/// training library's datasets and backtests use; it lives beside the features so that both can reach it.
/// </summary>
public readonly record struct LabelDefinition(LabelKind Kind, int Horizon)
{
    /// <summary>The label grammar, as help text shows it.</summary>
    public const string Grammar = "up_K (1 when the close K bars later is higher, else 0), logret_K (ln(close[t+K]/close[t]))";

    /// <summary>The column name: <c>up_K</c> or <c>logret_K</c>.</summary>
    public string Name => (Kind == LabelKind.Direction ? "up_" : "logret_") + Horizon.ToString(CultureInfo.InvariantCulture);

    /// <summary>The label of bar <paramref name="t"/>, or NaN when the series has no bar <see cref="Horizon"/> bars later.</summary>
    public double At(ReadOnlySpan<double> close, int t)
    {
        // long: a horizon near int.MaxValue must not wrap round to a bar inside the series.
        long ahead = (long)t + Horizon;
        if ((uint)t >= (uint)close.Length || ahead >= close.Length)
        {
            return double.NaN;
        }
        return Kind switch
        {
            LabelKind.Direction => close[(int)ahead] > close[t] ? 1 : 0,
            LabelKind.LogReturn => Math.Log(close[(int)ahead] / close[t]),
            _ => throw new InvalidOperationException($"unknown label kind {Kind}"),
        };
    }

    /// <summary>The label of every bar of <paramref name="bars"/>, NaN for the last <see cref="Horizon"/> bars.</summary>
    public double[] Compute(BarSeries bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        var column = new double[bars.Count];
        ReadOnlySpan<double> close = bars.Close;
        for (int t = 0; t < column.Length; t++)
        {
            column[t] = At(close, t);
        }
        return column;
    }

    /// <summary>Whether <paramref name="name"/> is a label column name (<c>up_K</c> or <c>logret_K</c>, K a whole number of at least 1).</summary>
    public static bool TryParse(string? name, out LabelDefinition label)
    {
        label = default;
        string text = name?.Trim() ?? string.Empty;
        (LabelKind kind, string rest) = text.StartsWith("up_", StringComparison.Ordinal) ? (LabelKind.Direction, text[3..])
            : text.StartsWith("logret_", StringComparison.Ordinal) ? (LabelKind.LogReturn, text[7..])
            : (LabelKind.Direction, string.Empty);
        if (rest.Length == 0 || !rest.All(char.IsAsciiDigit)
            || !int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out int horizon) || horizon < 1)
        {
            return false;
        }
        label = new LabelDefinition(kind, horizon);
        return true;
    }

    /// <summary>
    /// The label a model's lineage names (its <c>label</c>: <c>kind</c>, direction or logReturn, and <c>horizon</c>;
    /// <c>name</c>, where given, must agree with them): the one reading of it, for the registry's check and for
    /// retraining alike.
    /// </summary>
    /// <param name="lineage">The lineage's root object.</param>
    /// <exception cref="FormatException">The label is missing or wrong; the message names the field.</exception>
    public static LabelDefinition FromLineage(JsonElement lineage)
    {
        if (!lineage.TryGetProperty("label", out JsonElement label) || label.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("field 'label' is required: an object with 'kind' (direction or logReturn) and 'horizon' (bars ahead)");
        }
        LabelKind kind = label.TryGetProperty("kind", out JsonElement k) && k.ValueKind == JsonValueKind.String ? k.GetString() switch
        {
            "direction" => LabelKind.Direction,
            "logReturn" => LabelKind.LogReturn,
            var other => throw new FormatException($"field 'label.kind' is '{other}'; it must be 'direction' or 'logReturn'"),
        } : throw new FormatException("field 'label.kind' is required: 'direction' or 'logReturn'");
        int horizon = label.TryGetProperty("horizon", out JsonElement h) && h.ValueKind == JsonValueKind.Number && h.TryGetInt32(out int bars) && bars >= 1
            ? bars
            : throw new FormatException("field 'label.horizon' is required: a whole number of bars, at least 1");
        var definition = new LabelDefinition(kind, horizon);
        if (label.TryGetProperty("name", out JsonElement name) && !(name.ValueKind == JsonValueKind.String && name.GetString() == definition.Name))
        {
            throw new FormatException($"field 'label.name' ({name}) does not agree with label.kind and label.horizon, which make '{definition.Name}'");
        }
        return definition;
    }

    /// <summary>Parses a label name; throws <see cref="FeatureSpecException"/> naming what is wrong.</summary>
    public static LabelDefinition Parse(string name) =>
        TryParse(name, out LabelDefinition label)
            ? label
            : throw new FeatureSpecException($"label '{name}': expected up_K or logret_K with K a whole number of bars ahead, at least 1");
}
