using System.Globalization;
using System.Text.Json;

namespace MarketIntel.Abstractions;

/// <summary>
/// An asset's features as one JSON object: <c>asOf</c>, the time of the bar they were computed from, then feature
/// name to value in the spec's order: <c>{"asOf":"2001-09-27T00:00:00.000Z","sma_20":101.5,"rsi_14":null,...}</c>.
/// Undefined (warming-up) features are null, as JSON has no NaN. No feature can be called <c>asOf</c>: feature
/// names are lower case by the grammar. The HTTP API and the Redis cache write the same shape, which users' scripts
/// read: one definition for both.
/// </summary>
public static class FeatureJson
{
    /// <summary>The name of the property that carries the snapshot's time.</summary>
    public const string AsOfProperty = "asOf";

    /// <summary>Writes the snapshot's time and features as one JSON object.</summary>
    public static void Write(Utf8JsonWriter json, FeatureSnapshot features)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(features);
        json.WriteStartObject();
        json.WriteString(AsOfProperty, FormatTime(features.AsOf));
        for (int i = 0; i < features.Names.Count; i++)
        {
            NumberOrNull(json, features.Names[i], features.Values[i]);
        }
        json.WriteEndObject();
    }

    /// <summary>
    /// Writes <paramref name="value"/> under <paramref name="name"/>, or null where it is NaN or infinite (JSON has no
    /// such numbers): how every JSON answer of the grid writes a number that may be missing.
    /// </summary>
    public static void NumberOrNull(Utf8JsonWriter json, string name, double value)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    /// <summary>A bar timestamp (Unix ms) as ISO 8601 UTC with milliseconds: the <c>asOf</c> of every JSON answer.</summary>
    public static string FormatTime(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
