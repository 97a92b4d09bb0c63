using System.Text.Json;

namespace MarketIntel.Abstractions;

/// <summary>
/// An asset's features as one JSON object of name to value, in the spec's order:
/// <c>{"sma_20":101.5,"rsi_14":null,...}</c>. Undefined (warming-up) features are null, as JSON has no NaN. The
/// HTTP API and the Redis cache write the same shape, which users' scripts read: one definition for both.
/// </summary>
public static class FeatureJson
{
    /// <summary>Writes the snapshot's features as one JSON object.</summary>
    public static void Write(Utf8JsonWriter json, FeatureSnapshot features)
    {
        json.WriteStartObject();
        for (int i = 0; i < features.Names.Count; i++)
        {
            double value = features.Values[i];
            if (double.IsFinite(value))
            {
                json.WriteNumber(features.Names[i], value);
            }
            else
            {
                json.WriteNull(features.Names[i]);
            }
        }
        json.WriteEndObject();
    }
}
