using System.Text.Json;
using MarketIntel.Api.V1;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// Drift over the grid's HTTP/JSON API (docs/api.md, "Drift"): <c>GET /drift</c>, with <c>scan=true</c> when the scan
/// is wanted (the summary and the scan then come from one read of the store), read back into the gRPC service's
/// messages as the server writes them (a <c>null</c> statistic is NaN, a <c>null</c> model or version empty), so that
/// the command prints and reports the same whichever way it asked.
/// </summary>
internal sealed class HttpDriftClient(GridHttp http) : IDriftClient
{
    public async Task<(DriftSummary Summary, List<AssetDrift> Scan)> ReadAsync(string name, bool scan)
    {
        var query = new List<string>();
        if (name.Length > 0)
        {
            query.Add("name=" + Uri.EscapeDataString(name));
        }
        if (scan)
        {
            query.Add("scan=true");
        }
        JsonElement answer = await http.Send(HttpMethod.Get, "/drift" + (query.Count == 0 ? "" : "?" + string.Join('&', query)));
        return http.Read(() =>
        {
            var summary = new DriftSummary();
            summary.Versions.AddRange(answer.GetProperty("versions").EnumerateArray().Select(Version));
            List<AssetDrift> assets = scan ? [.. answer.GetProperty("assets").EnumerateArray().Select(Asset)] : [];
            return (summary, assets);
        });
    }

    public void Dispose() => http.Dispose();

    private static VersionDrift Version(JsonElement json)
    {
        var version = new VersionDrift
        {
            Model = json.GetProperty("model").GetString()!,
            Version = json.GetProperty("version").GetString()!,
            Assets = json.GetProperty("assets").GetInt64(),
            DriftingAssets = json.GetProperty("driftingAssets").GetInt64(),
            WorstPsi = Number(json.GetProperty("worstPsi")),
        };
        version.Features.AddRange(json.GetProperty("features").EnumerateArray()
            .Select(f => new FeatureDriftCount { Name = f.GetProperty("name").GetString()!, DriftingAssets = f.GetProperty("driftingAssets").GetInt64() }));
        return version;
    }

    private static AssetDrift Asset(JsonElement json)
    {
        JsonElement quality = json.GetProperty("quality");
        var asset = new AssetDrift
        {
            Asset = json.GetProperty("asset").GetString()!,
            Model = json.GetProperty("model").GetString() ?? "",
            Version = json.GetProperty("version").GetString() ?? "",
            Status = json.GetProperty("status").GetString()!,
            Window = json.GetProperty("window").GetInt32(),
            Count = json.GetProperty("count").GetInt32(),
            Drifting = json.GetProperty("drifting").GetBoolean(),
            Quality = new DataQuality
            {
                Bars = quality.GetProperty("bars").GetInt64(),
                // The server writes null while no interval is learned, which gRPC carries as 0.
                UsualIntervalMs = quality.GetProperty("usualIntervalMs").ValueKind == JsonValueKind.Null ? 0 : quality.GetProperty("usualIntervalMs").GetDouble(),
                Gaps = quality.GetProperty("gaps").GetInt64(),
                StaleRuns = quality.GetProperty("staleRuns").GetInt64(),
                CurrentStaleBars = quality.GetProperty("currentStaleBars").GetInt64(),
                Spikes = quality.GetProperty("spikes").GetInt64(),
                Rejected = quality.GetProperty("rejected").GetInt64(),
            },
        };
        asset.Quality.Findings.AddRange(quality.GetProperty("findings").EnumerateArray().Select(f => f.GetString()!));
        foreach (JsonProperty reason in quality.GetProperty("rejectedByReason").EnumerateObject())
        {
            asset.Quality.RejectedByReason[reason.Name] = reason.Value.GetInt64();
        }
        asset.Features.AddRange(json.GetProperty("features").EnumerateArray().Select(Feature));
        if (json.GetProperty("prediction") is { ValueKind: not JsonValueKind.Null } prediction)
        {
            asset.Prediction = Feature(prediction);
        }
        if (json.GetProperty("concept") is { ValueKind: not JsonValueKind.Null } concept)
        {
            asset.Concept = new ConceptDrift
            {
                Outcomes = concept.GetProperty("outcomes").GetInt64(),
                LiveAccuracy = Number(concept.GetProperty("liveAccuracy")),
                LiveLogLoss = Number(concept.GetProperty("liveLogLoss")),
                ValidationAccuracy = Number(concept.GetProperty("validationAccuracy")),
                ValidationLogLoss = Number(concept.GetProperty("validationLogLoss")),
                PValue = Number(concept.GetProperty("pValue")),
                Decayed = concept.GetProperty("decayed").GetBoolean(),
            };
        }
        return asset;
    }

    private static FeatureDrift Feature(JsonElement json)
    {
        var feature = new FeatureDrift
        {
            Name = json.GetProperty("name").GetString()!,
            Count = json.GetProperty("count").GetInt64(),
            MissingRate = Number(json.GetProperty("missingRate")),
            ReferenceMissingRate = Number(json.GetProperty("referenceMissingRate")),
            Psi = Number(json.GetProperty("psi")),
            Js = Number(json.GetProperty("js")),
            Wasserstein = Number(json.GetProperty("wasserstein")),
            ChiSquare = Number(json.GetProperty("chiSquare")),
            DegreesOfFreedom = json.GetProperty("degreesOfFreedom").GetInt32(),
            PValue = Number(json.GetProperty("pValue")),
            Drifting = json.GetProperty("drifting").GetBoolean(),
        };
        // Only a series with statistics in a scan carries its bins.
        if (json.TryGetProperty("referenceCounts", out JsonElement reference))
        {
            feature.Edges.AddRange(json.GetProperty("edges").EnumerateArray().Select(e => e.GetSingle()));
            feature.ReferenceCounts.AddRange(reference.EnumerateArray().Select(c => c.GetInt64()));
            feature.LiveCounts.AddRange(json.GetProperty("liveCounts").EnumerateArray().Select(c => c.GetInt64()));
        }
        return feature;
    }

    // The server writes a statistic that cannot be computed (NaN) as null.
    private static double Number(JsonElement json) => json.ValueKind == JsonValueKind.Null ? double.NaN : json.GetDouble();
}
