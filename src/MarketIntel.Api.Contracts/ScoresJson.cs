using System.Text.Json;

namespace MarketIntel.Api.V1;

/// <summary>
/// <c>GET /models/{name}/scores</c>'s JSON, written by the server and read by <c>marketintel models scores</c>, from and
/// into the gRPC reply, so both APIs answer the same: <c>{"name":..,"versions":[{"version":..,"role":..,"outcomes":N,
/// "hits":H,"accuracy":..,"logLoss":..,"brier":..}],"pairs":[...]}</c>, means as numbers and null where there is none;
/// return models add <c>squaredError</c>, a reply for one asset names it; <c>"gate":[{"alias":..,"champion":..,
/// "challenger":..,"verdict":..,"wouldPromote":..,"reason":..,"pairs":N,"minPairs":M,"alpha":..,"statistics":{..}}]</c>
/// is what the promotion gate would decide now on each challenger (an empty array for one asset).
/// </summary>
public static class ScoresJson
{
    /// <summary>Writes <paramref name="reply"/> as the HTTP API answers it.</summary>
    public static void Write(Utf8JsonWriter json, ScoresReply reply)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(reply);
        json.WriteStartObject();
        json.WriteString("name", reply.Name);
        if (reply.Asset.Length > 0)
        {
            json.WriteString("asset", reply.Asset);
        }
        json.WriteStartArray("versions");
        foreach (VersionScore v in reply.Versions)
        {
            json.WriteStartObject();
            json.WriteString("version", v.Version);
            json.WriteString("role", v.Role);
            json.WriteString("label", v.Label);
            json.WriteNumber("outcomes", v.Outcomes);
            json.WriteNumber("hits", v.Hits);
            Number(json, "accuracy", v.Accuracy);
            Number(json, "logLoss", v.LogLoss);
            Number(json, "brier", v.Brier);
            if (!double.IsNaN(v.SquaredError))
            {
                Number(json, "squaredError", v.SquaredError);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("pairs");
        foreach (PairScore p in reply.Pairs)
        {
            json.WriteStartObject();
            json.WriteString("champion", p.Champion);
            json.WriteString("challenger", p.Challenger);
            json.WriteNumber("pairs", p.Pairs);
            json.WriteNumber("bothHit", p.BothHit);
            json.WriteNumber("championOnlyHits", p.ChampionOnlyHits);
            json.WriteNumber("challengerOnlyHits", p.ChallengerOnlyHits);
            Number(json, "meanLossDifference", p.MeanLossDifference);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("gate");
        foreach (GateVerdict g in reply.Gate)
        {
            json.WriteStartObject();
            json.WriteString("alias", g.Alias);
            json.WriteString("champion", g.Champion);
            json.WriteString("challenger", g.Challenger);
            json.WriteString("verdict", g.Verdict);
            json.WriteBoolean("wouldPromote", g.WouldPromote);
            json.WriteString("reason", g.Reason);
            json.WriteNumber("pairs", g.Pairs);
            json.WriteNumber("minPairs", g.MinPairs);
            Number(json, "alpha", g.Alpha);
            // Sorted, as the promotion decision's JSON writes its statistics, so both read alike.
            json.WriteStartObject("statistics");
            foreach (var (name, value) in g.Statistics.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                Number(json, name, value);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    // A number, or null where it is not one (JSON has no NaN); the retraining JSON writes its scores so too.
    internal static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote; throws <see cref="JsonException"/> or <see cref="KeyNotFoundException"/> on another shape.</summary>
    public static ScoresReply Read(JsonElement root)
    {
        var reply = new ScoresReply
        {
            Name = root.GetProperty("name").GetString() ?? "",
            Asset = root.TryGetProperty("asset", out JsonElement asset) ? asset.GetString() ?? "" : "",
        };
        foreach (JsonElement v in root.GetProperty("versions").EnumerateArray())
        {
            reply.Versions.Add(new VersionScore
            {
                Version = v.GetProperty("version").GetString() ?? "",
                Role = v.GetProperty("role").GetString() ?? "",
                Label = v.GetProperty("label").GetString() ?? "",
                Outcomes = v.GetProperty("outcomes").GetInt64(),
                Hits = v.GetProperty("hits").GetInt64(),
                Accuracy = Number(v, "accuracy"),
                LogLoss = Number(v, "logLoss"),
                Brier = Number(v, "brier"),
                SquaredError = Number(v, "squaredError"),
            });
        }
        foreach (JsonElement p in root.GetProperty("pairs").EnumerateArray())
        {
            reply.Pairs.Add(new PairScore
            {
                Champion = p.GetProperty("champion").GetString() ?? "",
                Challenger = p.GetProperty("challenger").GetString() ?? "",
                Pairs = p.GetProperty("pairs").GetInt64(),
                BothHit = p.GetProperty("bothHit").GetInt64(),
                ChampionOnlyHits = p.GetProperty("championOnlyHits").GetInt64(),
                ChallengerOnlyHits = p.GetProperty("challengerOnlyHits").GetInt64(),
                MeanLossDifference = Number(p, "meanLossDifference"),
            });
        }
        // A server from before the gate's verdicts answers without them.
        if (root.TryGetProperty("gate", out JsonElement gate))
        {
            foreach (JsonElement g in gate.EnumerateArray())
            {
                var verdict = new GateVerdict
                {
                    Alias = g.GetProperty("alias").GetString() ?? "",
                    Champion = g.GetProperty("champion").GetString() ?? "",
                    Challenger = g.GetProperty("challenger").GetString() ?? "",
                    Verdict = g.GetProperty("verdict").GetString() ?? "",
                    WouldPromote = g.GetProperty("wouldPromote").GetBoolean(),
                    Reason = g.GetProperty("reason").GetString() ?? "",
                    Pairs = g.GetProperty("pairs").GetInt64(),
                    MinPairs = g.GetProperty("minPairs").GetInt64(),
                    Alpha = Number(g, "alpha"),
                };
                foreach (JsonProperty statistic in g.GetProperty("statistics").EnumerateObject())
                {
                    verdict.Statistics[statistic.Name] = statistic.Value.ValueKind == JsonValueKind.Number ? statistic.Value.GetDouble() : double.NaN;
                }
                reply.Gate.Add(verdict);
            }
        }
        return reply;
    }

    private static double Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : double.NaN;
}
