using System.Text.Json;
using Grpc.Core;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains.Drift;
using MarketIntel.Server.Application;
using MarketIntel.Server.Security;
using MarketIntel.Training.Drift;
using V1 = MarketIntel.Api.V1;

namespace MarketIntel.Server.Api;

/// <summary>
/// Drift over gRPC (<c>Drift.GetAssetDrift</c>, <c>GetSummary</c>, <c>Scan</c>): validate, call, map back. The HTTP side
/// (<see cref="DriftHttpApi"/>) writes the same messages as JSON.
/// </summary>
internal sealed class DriftService(DriftQuery query) : V1.Drift.DriftBase
{
    [RequiresRole(ApiRole.Reader)]
    public override async Task<V1.AssetDrift> GetAssetDrift(V1.GetAssetDriftRequest request, ServerCallContext context) =>
        DriftMapping.ToMessage(await query.Asset(Mapping.Asset(request.Asset)));

    [RequiresRole(ApiRole.Reader)]
    public override async Task<V1.DriftSummary> GetSummary(V1.GetDriftSummaryRequest request, ServerCallContext context) =>
        DriftMapping.ToMessage(await query.Summary(DriftMapping.Name(request.Name)));

    [RequiresRole(ApiRole.Reader)]
    public override async Task Scan(V1.DriftScanRequest request, IServerStreamWriter<V1.AssetDrift> responseStream, ServerCallContext context)
    {
        foreach (var scanned in await query.Scan(DriftMapping.Name(request.Name)))
        {
            await responseStream.WriteAsync(DriftMapping.ToMessage(scanned, request.WithCounts), context.CancellationToken);
        }
    }
}

/// <summary>
/// <c>GET /drift/{asset}</c> and <c>GET /drift</c> (<c>?name=MODEL</c> for one model name's versions; <c>?scan=true</c>
/// adds every scanned asset with its series' counts, what <c>Drift.Scan</c> streams with <c>with_counts</c>), reader role.
/// </summary>
internal static class DriftHttpApi
{
    /// <summary>The paths, for the index.</summary>
    internal static readonly (string Path, string What)[] Paths =
    [
        ("GET /drift/{asset}", "the asset's drift: its served version's inputs and prediction against the reference, bar quality, live scores against validation (reader)"),
        ("GET /drift", "per model version: assets judged and drifting, worst PSI, features most often drifting; ?name=MODEL; ?scan=true adds every stored window's asset with its bin edges and counts (reader)"),
    ];

    public static void MapDriftHttpApi(this IEndpointRouteBuilder app)
    {
        var query = app.ServiceProvider.GetRequiredService<DriftQuery>();
        var reader = new RequiresRoleAttribute(ApiRole.Reader);
        app.MapGet("/drift/{asset}", (string asset, HttpContext http) =>
            ModelsHttpApi.Answer(http, async () => DriftMapping.ToMessage(await query.Asset(Mapping.Asset(HttpApi.Symbol(asset, http)))), DriftMapping.Write))
            .WithMetadata(reader);
        app.MapGet("/drift", (HttpContext http) => ModelsHttpApi.Answer(http, async () => await Summary(query, http.Request), DriftMapping.Write))
            .WithMetadata(reader);
    }

    // The summary, and with ?scan=true the scan it was made from: one read of the store, so the two agree.
    private static async Task<(V1.DriftSummary Summary, List<V1.AssetDrift>? Scan)> Summary(DriftQuery query, HttpRequest request)
    {
        string scanText = request.Query["scan"].ToString();
        bool scan = scanText.Length == 0 ? false
            : bool.TryParse(scanText, out bool value) ? value
            : throw Errors.InvalidArgument($"scan: '{(scanText.Length > 20 ? scanText[..20] + "..." : scanText)}' is not true or false");
        string? name = DriftMapping.Name(request.Query["name"].ToString());
        if (!scan)
        {
            return (DriftMapping.ToMessage(await query.Summary(name)), null);
        }
        var scanned = await query.Scan(name);
        return (DriftMapping.ToMessage(DriftScanner.Summarize(scanned.Select(s => s.Drift))), [.. scanned.Select(s => DriftMapping.ToMessage(s, withCounts: true))]);
    }
}

/// <summary>Between the grid's drift records and the API's messages, and the messages as the HTTP API's JSON.</summary>
internal static class DriftMapping
{
    /// <summary>A model name filter: empty for every model, else a checked name.</summary>
    public static string? Name(string name) => name.Length == 0 ? null : Mapping.ModelName(name);

    public static V1.AssetDrift ToMessage(AssetDrift drift)
    {
        var message = new V1.AssetDrift
        {
            Asset = drift.Asset,
            Model = drift.Model?.Name ?? "",
            Version = drift.Model?.Version ?? "",
            Status = drift.Status,
            Window = drift.Window,
            Count = drift.Count,
            Drifting = drift.Drifting,
            Quality = ToMessage(drift.Quality),
        };
        message.Features.AddRange(drift.Features.Select(ToMessage));
        if (drift.Prediction is { } prediction)
        {
            message.Prediction = ToMessage(prediction);
        }
        if (drift.Concept is { } concept)
        {
            message.Concept = new V1.ConceptDrift
            {
                Outcomes = concept.Outcomes,
                LiveAccuracy = concept.LiveAccuracy,
                LiveLogLoss = concept.LiveLogLoss,
                ValidationAccuracy = concept.ValidationAccuracy,
                ValidationLogLoss = concept.ValidationLogLoss,
                PValue = concept.PValue,
                Decayed = concept.Decayed,
            };
        }
        return message;
    }

    private static V1.FeatureDrift ToMessage(SeriesDrift s) => new()
    {
        Name = s.Name,
        Count = s.Count,
        MissingRate = s.MissingRate,
        ReferenceMissingRate = s.ReferenceMissingRate,
        Psi = s.Psi,
        Js = s.JensenShannon,
        Wasserstein = s.Wasserstein,
        ChiSquare = s.ChiSquare,
        DegreesOfFreedom = s.DegreesOfFreedom,
        PValue = s.PValue,
        Drifting = s.Drifting,
    };

    private static V1.DataQuality ToMessage(DataQuality quality)
    {
        var message = new V1.DataQuality
        {
            Bars = quality.Bars,
            UsualIntervalMs = quality.UsualIntervalMs,
            Gaps = quality.Gaps,
            StaleRuns = quality.StaleRuns,
            CurrentStaleBars = quality.CurrentStaleBars,
            Spikes = quality.Spikes,
            Rejected = quality.Rejected,
        };
        message.Findings.AddRange(quality.Findings);
        foreach (var (reason, count) in quality.RejectedByReason)
        {
            message.RejectedByReason[reason] = count;
        }
        return message;
    }

    /// <summary>
    /// A scanned window as the API's message; <paramref name="withCounts"/> adds each series' bin edges and counts where
    /// there are statistics (a full or warming-up window against a profile).
    /// </summary>
    public static V1.AssetDrift ToMessage((AssetDrift Drift, DriftCounts Counts, ReferenceProfile? Profile) scanned, bool withCounts)
    {
        V1.AssetDrift message = ToMessage(scanned.Drift);
        if (withCounts && scanned.Profile is not null && scanned.Drift.Status is DriftStatus.Ok or DriftStatus.WarmingUp)
        {
            AddCounts(message, scanned.Counts, scanned.Profile);
        }
        return message;
    }

    // Adds the live and reference counts and the bin edges of each series (the batch scan's with_counts).
    private static void AddCounts(V1.AssetDrift message, DriftCounts counts, ReferenceProfile profile)
    {
        FeatureReference[] series = DriftScanner.Series(profile);
        var targets = message.Prediction is { } p ? [.. message.Features, p] : message.Features.ToArray();
        for (int s = 0; s < targets.Length; s++)
        {
            targets[s].Edges.AddRange(series[s].Edges);
            targets[s].ReferenceCounts.AddRange(series[s].Counts);
            targets[s].LiveCounts.AddRange(counts.Series[s].Counts.Select(c => (long)c));
        }
    }

    public static V1.DriftSummary ToMessage(IReadOnlyList<VersionDriftSummary> summary)
    {
        var message = new V1.DriftSummary();
        foreach (VersionDriftSummary version in summary)
        {
            var item = new V1.VersionDrift
            {
                Model = version.Model.Name,
                Version = version.Model.Version,
                Assets = version.Assets,
                DriftingAssets = version.DriftingAssets,
                WorstPsi = version.WorstPsi,
            };
            item.Features.AddRange(version.Features.Select(f => new V1.FeatureDriftCount { Name = f.Name, DriftingAssets = f.DriftingAssets }));
            message.Versions.Add(item);
        }
        return message;
    }

    /// <summary>
    /// <c>GET /drift/{asset}</c>'s JSON: <c>{"asset":..,"model":..,"version":..,"status":..,"window":W,"count":N,
    /// "drifting":..,"features":[{"name":..,"psi":..,"js":..,"wasserstein":..,"pValue":..,"drifting":..,...}],
    /// "prediction":{...},"quality":{...},"concept":{...}}</c>, NaN as null.
    /// </summary>
    public static void Write(Utf8JsonWriter json, V1.AssetDrift drift)
    {
        json.WriteStartObject();
        json.WriteString("asset", drift.Asset);
        StringOrNull(json, "model", drift.Model);
        StringOrNull(json, "version", drift.Version);
        json.WriteString("status", drift.Status);
        json.WriteNumber("window", drift.Window);
        json.WriteNumber("count", drift.Count);
        json.WriteBoolean("drifting", drift.Drifting);
        json.WriteStartArray("features");
        foreach (V1.FeatureDrift feature in drift.Features)
        {
            Write(json, feature);
        }
        json.WriteEndArray();
        json.WritePropertyName("prediction");
        if (drift.Prediction is { } prediction)
        {
            Write(json, prediction);
        }
        else
        {
            json.WriteNullValue();
        }
        json.WriteStartObject("quality");
        json.WriteNumber("bars", drift.Quality.Bars);
        // 0 until the usual interval is learned: no interval is known then, so null.
        Number(json, "usualIntervalMs", drift.Quality.UsualIntervalMs > 0 ? drift.Quality.UsualIntervalMs : double.NaN);
        json.WriteNumber("gaps", drift.Quality.Gaps);
        json.WriteNumber("staleRuns", drift.Quality.StaleRuns);
        json.WriteNumber("currentStaleBars", drift.Quality.CurrentStaleBars);
        json.WriteNumber("spikes", drift.Quality.Spikes);
        json.WriteNumber("rejected", drift.Quality.Rejected);
        json.WriteStartObject("rejectedByReason");
        foreach (var (reason, count) in drift.Quality.RejectedByReason.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            json.WriteNumber(reason, count);
        }
        json.WriteEndObject();
        json.WriteStartArray("findings");
        foreach (string finding in drift.Quality.Findings)
        {
            json.WriteStringValue(finding);
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WritePropertyName("concept");
        if (drift.Concept is { } concept)
        {
            json.WriteStartObject();
            json.WriteNumber("outcomes", concept.Outcomes);
            Number(json, "liveAccuracy", concept.LiveAccuracy);
            Number(json, "liveLogLoss", concept.LiveLogLoss);
            Number(json, "validationAccuracy", concept.ValidationAccuracy);
            Number(json, "validationLogLoss", concept.ValidationLogLoss);
            Number(json, "pValue", concept.PValue);
            json.WriteBoolean("decayed", concept.Decayed);
            json.WriteEndObject();
        }
        else
        {
            json.WriteNullValue();
        }
        json.WriteEndObject();
    }

    private static void Write(Utf8JsonWriter json, V1.FeatureDrift feature)
    {
        json.WriteStartObject();
        json.WriteString("name", feature.Name);
        Number(json, "psi", feature.Psi);
        Number(json, "js", feature.Js);
        Number(json, "wasserstein", feature.Wasserstein);
        Number(json, "pValue", feature.PValue);
        json.WriteBoolean("drifting", feature.Drifting);
        json.WriteNumber("count", feature.Count);
        Number(json, "missingRate", feature.MissingRate);
        Number(json, "referenceMissingRate", feature.ReferenceMissingRate);
        Number(json, "chiSquare", feature.ChiSquare);
        json.WriteNumber("degreesOfFreedom", feature.DegreesOfFreedom);
        // Only a scan with counts carries them.
        if (feature.ReferenceCounts.Count > 0)
        {
            json.WriteStartArray("edges");
            foreach (float edge in feature.Edges)
            {
                json.WriteNumberValue(edge);
            }
            json.WriteEndArray();
            Numbers(json, "referenceCounts", feature.ReferenceCounts);
            Numbers(json, "liveCounts", feature.LiveCounts);
        }
        json.WriteEndObject();
    }

    private static void Numbers(Utf8JsonWriter json, string name, IEnumerable<long> values)
    {
        json.WriteStartArray(name);
        foreach (long value in values)
        {
            json.WriteNumberValue(value);
        }
        json.WriteEndArray();
    }

    /// <summary>
    /// <c>GET /drift</c>'s JSON: <c>{"versions":[{"model":..,"version":..,"assets":N,"driftingAssets":D,"worstPsi":..,"features":[{"name":..,"driftingAssets":K}]}]}</c>,
    /// with a scan <c>"assets":[...]</c> after, each as <c>GET /drift/{asset}</c> writes it and each series with
    /// <c>"edges"</c>, <c>"referenceCounts"</c> and <c>"liveCounts"</c> where it has statistics.
    /// </summary>
    public static void Write(Utf8JsonWriter json, (V1.DriftSummary Summary, List<V1.AssetDrift>? Scan) answer)
    {
        var (summary, scan) = answer;
        json.WriteStartObject();
        json.WriteStartArray("versions");
        foreach (V1.VersionDrift version in summary.Versions)
        {
            json.WriteStartObject();
            json.WriteString("model", version.Model);
            json.WriteString("version", version.Version);
            json.WriteNumber("assets", version.Assets);
            json.WriteNumber("driftingAssets", version.DriftingAssets);
            Number(json, "worstPsi", version.WorstPsi);
            json.WriteStartArray("features");
            foreach (V1.FeatureDriftCount feature in version.Features)
            {
                json.WriteStartObject();
                json.WriteString("name", feature.Name);
                json.WriteNumber("driftingAssets", feature.DriftingAssets);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        if (scan is not null)
        {
            json.WriteStartArray("assets");
            foreach (V1.AssetDrift asset in scan)
            {
                Write(json, asset);
            }
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }

    private static void StringOrNull(Utf8JsonWriter json, string name, string value)
    {
        if (value.Length > 0)
        {
            json.WriteString(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void Number(Utf8JsonWriter json, string name, double value) => FeatureJson.NumberOrNull(json, name, value);
}
