using System.Globalization;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Server.Application;
using MarketIntel.Server.Limits;
using MarketIntel.Server.Security;
using MarketIntel.Training.Drift;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Api;

/// <summary>
/// The model registry over HTTP/JSON: <c>PUT /models/{name}/versions/{version}</c> (the model file; <c>?alias=A</c>
/// points an alias at it), <c>PUT .../versions/{version}/lineage</c>, <c>POST .../versions/{version}/tags</c>,
/// <c>GET /models</c>, <c>GET /models/{name}</c>, <c>PUT|DELETE /models/{name}/aliases/{alias}</c>,
/// <c>PUT|DELETE /models/{name}/aliases/{alias}/split</c>, <c>PUT|DELETE /models/{name}/shadows/{version}</c> and
/// <c>GET /models/{name}/audit</c>. Changes need the admin role, reads the reader role.
/// </summary>
internal static class ModelsHttpApi
{
    /// <summary>How many audit records <c>GET /models/{name}/audit</c> answers without <c>?limit=</c>.</summary>
    public const int DefaultAuditLimit = 100;

    public static void MapModelsHttpApi(this IEndpointRouteBuilder app)
    {
        var models = app.ServiceProvider.GetRequiredService<ModelOperations>();
        var profiles = app.ServiceProvider.GetRequiredService<ModelProfiles>();
        int maxModelBytes = app.ServiceProvider.GetRequiredService<IOptions<LimitsOptions>>().Value.MaxGrpcMessageBytes;
        var admin = new RequiresRoleAttribute(ApiRole.Admin);
        var reader = new RequiresRoleAttribute(ApiRole.Reader);

        app.MapGet("/models", (HttpContext http) => Answer(http, async () => await models.List(), WriteModels)).WithMetadata(reader);
        app.MapGet("/models/{name}", (string name, HttpContext http) => Answer(http, () => models.Get(Name(name)), WriteModel)).WithMetadata(reader);
        app.MapGet("/models/{name}/audit", (string name, HttpContext http) =>
            Answer(http, () => models.Audit(Name(name), Limit(http)), WriteAudit)).WithMetadata(reader);

        app.MapPut("/models/{name}/versions/{version}", (string name, string version, HttpContext http) => Answer(http, async () =>
        {
            ModelRef model = Mapping.Model(name, version);
            string? alias = http.Request.Query["alias"] is { Count: > 0 } a ? Part("alias", a.ToString()) : null;
            // A model file is bigger than other bodies: it gets the allowance a gRPC RegisterModel gets.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = maxModelBytes;
            }
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, http.RequestAborted);
            if (body.Length == 0)
            {
                throw Errors.InvalidArgument($"body: model {model} has no bytes (send the model file as the request body)");
            }
            return await models.Register(new ModelRegistration(model.Name, model.Version, body.ToArray(), null, null, alias, Client(http)));
        }, WriteVersion)).WithMetadata(admin);

        app.MapPut("/models/{name}/versions/{version}/lineage", (string name, string version, HttpContext http) => Answer(http, async () =>
        {
            ModelRef model = Mapping.Model(name, version);
            using var reader = new StreamReader(http.Request.Body);
            string lineage = await reader.ReadToEndAsync(http.RequestAborted);
            return await models.SetLineage(model, lineage, Client(http));
        }, WriteVersion)).WithMetadata(admin);

        app.MapPut("/models/{name}/versions/{version}/profile", (string name, string version, HttpContext http) => Answer(http, async () =>
        {
            ModelRef model = Mapping.Model(name, version);
            // A feature matrix may be as big as a model file: it gets the same allowance.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = maxModelBytes;
            }
            using var reader = new StreamReader(http.Request.Body);
            string body = await reader.ReadToEndAsync(http.RequestAborted);
            return http.Request.ContentType is { } type && type.StartsWith("text/csv", StringComparison.OrdinalIgnoreCase)
                ? await profiles.FromMatrix(model, body, Bins(http), Client(http))
                : await profiles.Set(model, body, Client(http));
        }, WriteVersion)).WithMetadata(admin);
        app.MapPost("/models/{name}/versions/{version}/profile", (string name, string version, HttpContext http) => Answer(http, async () =>
        {
            ModelRef model = Mapping.Model(name, version);
            const string example = "{\"assets\": [\"EURUSD\"], \"from\": \"2024-01-01T00:00:00Z\", \"to\": \"2024-06-30T00:00:00Z\"}";
            using JsonDocument body = await Body(http, example);
            string[] assets = body.RootElement.TryGetProperty("assets", out JsonElement a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0
                && a.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String)
                ? [.. a.EnumerateArray().Select((e, i) => Mapping.Asset(e.GetString(), $"body: assets[{i}]"))]
                : throw Errors.InvalidArgument($"body: 'assets' (a non-empty array of asset symbols) is required, e.g. {example}");
            long from = OptionalTime(body.RootElement, "from") ?? long.MinValue;
            long to = OptionalTime(body.RootElement, "to") ?? long.MaxValue;
            int bins = body.RootElement.TryGetProperty("bins", out JsonElement b)
                ? b.ValueKind == JsonValueKind.Number && b.TryGetInt32(out int n) ? n : throw Errors.InvalidArgument("body: 'bins' must be a whole number")
                : ProfileBuilder.DefaultBins;
            return await profiles.FromArchive(model, assets, from, to, bins, Client(http), http.RequestAborted);
        }, WriteVersion)).WithMetadata(admin);
        app.MapGet("/models/{name}/versions/{version}/profile", (string name, string version, HttpContext http) =>
            Answer(http, () => profiles.Get(Mapping.Model(name, version)), (json, profile) => json.WriteRawValue(profile, skipInputValidation: false))).WithMetadata(reader);

        app.MapPost("/models/{name}/versions/{version}/tags", (string name, string version, HttpContext http) => Answer(http, async () =>
        {
            ModelRef model = Mapping.Model(name, version);
            using JsonDocument body = await Body(http, "{\"set\": {\"KEY\": \"VALUE\"}, \"remove\": [\"KEY\"]}");
            var set = new Dictionary<string, string>(StringComparer.Ordinal);
            var remove = new List<string>();
            if (body.RootElement.TryGetProperty("set", out JsonElement pairs))
            {
                if (pairs.ValueKind != JsonValueKind.Object)
                {
                    throw Errors.InvalidArgument("body: 'set' must be an object of tag names to string values");
                }
                foreach (JsonProperty pair in pairs.EnumerateObject())
                {
                    set[pair.Name] = pair.Value.ValueKind == JsonValueKind.String ? pair.Value.GetString()!
                        : throw Errors.InvalidArgument($"body: set.{pair.Name} must be a string, not {pair.Value.ValueKind}");
                }
            }
            if (body.RootElement.TryGetProperty("remove", out JsonElement keys))
            {
                remove.AddRange(keys.ValueKind == JsonValueKind.Array && keys.EnumerateArray().All(k => k.ValueKind == JsonValueKind.String)
                    ? keys.EnumerateArray().Select(k => k.GetString()!)
                    : throw Errors.InvalidArgument("body: 'remove' must be an array of tag names"));
            }
            return await models.SetTags(model, set, remove, Client(http));
        }, WriteVersion)).WithMetadata(admin);

        app.MapPut("/models/{name}/aliases/{alias}", (string name, string alias, HttpContext http) => Answer(http, async () =>
        {
            using JsonDocument body = await Body(http, "{\"version\": \"VERSION\"}");
            string version = body.RootElement.TryGetProperty("version", out JsonElement v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()! : throw Errors.InvalidArgument("body: 'version' (a string) is required, e.g. {\"version\": \"v2\"}");
            bool? autoPromote = body.RootElement.TryGetProperty("autoPromote", out JsonElement auto)
                ? auto.ValueKind is JsonValueKind.True or JsonValueKind.False ? auto.GetBoolean() : throw Errors.InvalidArgument("body: 'autoPromote' must be true or false")
                : null;
            ModelRef model = Mapping.Model(name, version);
            return await models.SetAlias(model.Name, Part("alias", alias), model.Version, autoPromote, Client(http));
        }, WriteModelDeployment)).WithMetadata(admin);
        app.MapDelete("/models/{name}/aliases/{alias}", (string name, string alias, HttpContext http) =>
            Answer(http, () => models.RemoveAlias(Name(name), Part("alias", alias), Client(http)), WriteModelDeployment)).WithMetadata(admin);

        app.MapPut("/models/{name}/aliases/{alias}/split", (string name, string alias, HttpContext http) => Answer(http, async () =>
        {
            using JsonDocument body = await Body(http, "{\"version\": \"VERSION\", \"weight\": 0.1}");
            string version = body.RootElement.TryGetProperty("version", out JsonElement v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()! : throw Errors.InvalidArgument("body: 'version' (the second arm, a string) is required");
            double weight = body.RootElement.TryGetProperty("weight", out JsonElement w) && w.ValueKind == JsonValueKind.Number
                ? w.GetDouble() : throw Errors.InvalidArgument("body: 'weight' (the second arm's share of assets, between 0 and 1) is required");
            ModelRef model = Mapping.Model(name, version);
            return await models.SetSplit(model.Name, Part("alias", alias), new ArmSplit(model.Version, weight), Client(http));
        }, WriteModelDeployment)).WithMetadata(admin);
        app.MapDelete("/models/{name}/aliases/{alias}/split", (string name, string alias, HttpContext http) =>
            Answer(http, () => models.SetSplit(Name(name), Part("alias", alias), null, Client(http)), WriteModelDeployment)).WithMetadata(admin);

        app.MapPut("/models/{name}/shadows/{version}", (string name, string version, HttpContext http) =>
            Answer(http, () => models.SetShadow(Mapping.Model(name, version), true, Client(http)), WriteModelDeployment)).WithMetadata(admin);
        app.MapDelete("/models/{name}/shadows/{version}", (string name, string version, HttpContext http) =>
            Answer(http, () => models.SetShadow(Mapping.Model(name, version), false, Client(http)), WriteModelDeployment)).WithMetadata(admin);

        app.MapPost("/models/{name}/promote", (string name, HttpContext http) => Answer(http, async () =>
        {
            using JsonDocument body = await Body(http, "{\"challenger\": \"VERSION\"}");
            string challenger = body.RootElement.TryGetProperty("challenger", out JsonElement c) && c.ValueKind == JsonValueKind.String
                ? Part("challenger", c.GetString()!) : throw Errors.InvalidArgument("body: 'challenger' (the version to promote, a string) is required, e.g. {\"challenger\": \"v2\"}");
            string alias = body.RootElement.TryGetProperty("alias", out JsonElement a)
                ? a.ValueKind == JsonValueKind.String ? Part("alias", a.GetString()!) : throw Errors.InvalidArgument("body: 'alias' must be a string")
                : ModelOperations.DefaultPromotionAlias;
            return await models.Promote(Name(name), challenger, alias, Client(http));
        }, WriteDecision)).WithMetadata(admin);
    }

    /// <summary>The paths above for the index at <c>GET /</c>.</summary>
    internal static readonly (string Path, string What)[] Paths =
    [
        ("GET /models", "every model name with its versions, aliases and shadows (reader)"),
        ("GET /models/{name}", "a model name's versions (sha256, createdAt, tags, lineage), aliases, splits and shadows (reader)"),
        ("PUT /models/{name}/versions/{version}", "the model file as the body; ?alias=A points an alias at it (admin)"),
        ("PUT /models/{name}/versions/{version}/lineage", "the version's lineage JSON, set once (admin)"),
        ("PUT /models/{name}/versions/{version}/profile", "the version's reference profile for drift, set once: its JSON, or a feature-matrix CSV (Content-Type text/csv; ?bins=N, default 20) the server builds it from with the version's predictions (admin)"),
        ("POST /models/{name}/versions/{version}/profile", "{\"assets\": [...], \"from\": \"ISO time\", \"to\": \"ISO time\"} builds and sets the profile from the archive's bars of those assets (admin)"),
        ("GET /models/{name}/versions/{version}/profile", "the version's reference profile; 404 \"no reference\" when it has none (reader)"),
        ("POST /models/{name}/versions/{version}/tags", "{\"set\": {...}, \"remove\": [...]} (admin)"),
        ("PUT /models/{name}/aliases/{alias}", "{\"version\": \"...\"} moves the alias; DELETE removes it (admin)"),
        ("PUT /models/{name}/aliases/{alias}/split", "{\"version\": \"...\", \"weight\": 0.1} splits its assets; DELETE ends the split (admin)"),
        ("PUT /models/{name}/shadows/{version}", "makes the version a shadow; DELETE stops it (admin)"),
        ("GET /models/{name}/audit", "the model name's audit records, oldest first; ?limit=N (reader)"),
        ("POST /models/{name}/promote", "{\"challenger\": \"...\"} runs the promotion gate on the paired live outcomes; the alias (\"alias\", default champion) moves only when it passes (admin)"),
    ];

    // Who a change is made for, as the audit log names it: the caller the security middleware let through.
    internal static string Client(HttpContext http) =>
        http.Items.TryGetValue(ApiKeyMiddleware.KeyItem, out object? caller) && caller is Caller { Name: { Length: > 0 } name } ? name : ModelAudit.LocalClient;

    private static string Name(string name) => Mapping.ModelName(name);

    private static string Part(string field, string value)
    {
        Mapping.CheckModelPart(field, value);
        return value;
    }

    // ?limit=N of a list (1 to 10000), the audit's default when absent; the retraining jobs' list reads it too.
    internal static int Limit(HttpContext http)
    {
        string? text = http.Request.Query["limit"];
        if (text is null)
        {
            return DefaultAuditLimit;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int limit) && limit is >= 1 and <= 10_000 ? limit
            : throw Errors.InvalidArgument($"limit: '{text}' must be a whole number from 1 to 10000");
    }

    // ?bins=N for a profile built from a feature matrix; checked where the profile is built.
    private static int Bins(HttpContext http)
    {
        string? text = http.Request.Query["bins"];
        return text is null ? ProfileBuilder.DefaultBins
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int bins) ? bins
            : throw Errors.InvalidArgument($"bins: '{text}' must be a whole number from 1 to {FeatureReference.MaxBins}");
    }

    // An ISO 8601 time (UTC unless it carries an offset) as Unix ms, or null when the field is absent.
    private static long? OptionalTime(JsonElement body, string field)
    {
        if (!body.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset time) ? time.ToUnixTimeMilliseconds()
            : throw Errors.InvalidArgument($"body: '{field}' must be an ISO 8601 time such as \"2024-01-01T00:00:00Z\", not {value.GetRawText()}");
    }

    // The body as a JSON object, or a 400 that shows an example; a retraining start reads its optional body so too.
    internal static async Task<JsonDocument> Body(HttpContext http, string example)
    {
        try
        {
            JsonDocument body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
            if (body.RootElement.ValueKind != JsonValueKind.Object)
            {
                body.Dispose();
                throw Errors.InvalidArgument($"body: a JSON object is required, e.g. {example}");
            }
            return body;
        }
        catch (JsonException e)
        {
            throw Errors.InvalidArgument($"body: not JSON ({e.Message}); send e.g. {example}");
        }
    }

    // The answer is 200 unless status says otherwise for the result (a retraining start: 202, or 409 when debounced).
    internal static async Task Answer<T>(HttpContext http, Func<Task<T>> call, Action<Utf8JsonWriter, T> write, Func<T, int>? status = null)
    {
        T result;
        try
        {
            result = await call();
        }
        catch (Exception e) when (Errors.AsGridError(e) is { } grid)
        {
            await HttpApi.WriteError(http, grid);
            return;
        }
        await HttpApi.WriteJson(http, status?.Invoke(result) ?? StatusCodes.Status200OK, result, write);
    }

    // The decision with its statistics; JSON has no NaN, so a statistic the gate could not compute is null.
    private static void WriteDecision(Utf8JsonWriter json, PromotionDecision decision)
    {
        json.WriteStartObject();
        json.WriteString("name", decision.Name);
        json.WriteString("alias", decision.Alias);
        json.WriteString("champion", decision.Champion);
        json.WriteString("challenger", decision.Challenger);
        json.WriteBoolean("promoted", decision.Promoted);
        json.WriteString("reason", decision.Reason);
        json.WriteNumber("pairs", decision.Pairs);
        json.WriteStartObject("statistics");
        foreach (var (name, value) in decision.Statistics.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            FeatureJson.NumberOrNull(json, name, value);
        }
        json.WriteEndObject();
        json.WriteString("decidedAt", Time(decision.DecidedAt));
        json.WriteEndObject();
    }

    private static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void WriteModels(Utf8JsonWriter json, IReadOnlyList<ModelDetails> models)
    {
        json.WriteStartObject();
        json.WriteStartArray("models");
        foreach (ModelDetails model in models)
        {
            WriteModel(json, model);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter json, ModelDetails model)
    {
        json.WriteStartObject();
        json.WriteString("name", model.Name);
        json.WriteStartArray("versions");
        foreach (ModelVersionDetails version in model.Versions)
        {
            WriteVersion(json, version);
        }
        json.WriteEndArray();
        WriteDeployment(json, model.Deployment);
        json.WriteEndObject();
    }

    private static void WriteVersion(Utf8JsonWriter json, ModelVersionDetails version)
    {
        ModelInfo info = version.Info;
        json.WriteStartObject();
        json.WriteString("name", info.Model.Name);
        json.WriteString("version", info.Model.Version);
        json.WriteString("kind", info.Kind);
        json.WriteNumber("featureCount", info.FeatureCount);
        if (info.FeatureNames is { } names)
        {
            json.WriteStartArray("features");
            names.ToList().ForEach(json.WriteStringValue);
            json.WriteEndArray();
        }
        else
        {
            json.WriteNull("features");
        }
        json.WriteStartArray("outputs");
        info.OutputNames.ToList().ForEach(json.WriteStringValue);
        json.WriteEndArray();
        if (info.Label is { } label)
        {
            json.WriteString("label", label);
        }
        else
        {
            json.WriteNull("label");
        }
        json.WriteString("sha256", version.Sha256);
        json.WriteString("createdAt", Time(version.CreatedAt));
        json.WriteStartObject("tags");
        foreach (var (key, value) in version.Tags)
        {
            json.WriteString(key, value);
        }
        json.WriteEndObject();
        json.WriteBoolean("hasProfile", version.HasProfile);
        json.WritePropertyName("lineage");
        if (version.Lineage is { } lineage)
        {
            // Stored as given and checked to be JSON at registration: embedded as it is.
            json.WriteRawValue(lineage, skipInputValidation: false);
        }
        else
        {
            json.WriteNullValue();
        }
        json.WriteEndObject();
    }

    private static void WriteModelDeployment(Utf8JsonWriter json, ModelDeployment deployment)
    {
        json.WriteStartObject();
        json.WriteString("name", deployment.Name);
        WriteDeployment(json, deployment);
        json.WriteEndObject();
    }

    private static void WriteDeployment(Utf8JsonWriter json, ModelDeployment deployment)
    {
        json.WriteStartObject("aliases");
        foreach (var (alias, target) in deployment.Aliases.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            json.WriteStartObject(alias);
            json.WriteString("version", target.Version);
            if (target.Split is { } split)
            {
                json.WriteStartObject("split");
                json.WriteString("version", split.Version);
                json.WriteNumber("weight", split.Weight);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("split");
            }
            json.WriteBoolean("autoPromote", target.AutoPromote);
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.WriteStartArray("shadows");
        foreach (string shadow in deployment.Shadows)
        {
            json.WriteStringValue(shadow);
        }
        json.WriteEndArray();
        json.WriteNumber("epoch", deployment.Epoch);
    }

    private static void WriteAudit(Utf8JsonWriter json, IReadOnlyList<ModelAuditRecord> records)
    {
        json.WriteStartObject();
        json.WriteStartArray("records");
        foreach (ModelAuditRecord record in records)
        {
            json.WriteStartObject();
            json.WriteNumber("sequence", record.Sequence);
            json.WriteString("name", record.Name);
            json.WriteString("action", record.Action);
            if (record.Version is { } version)
            {
                json.WriteString("version", version);
            }
            else
            {
                json.WriteNull("version");
            }
            json.WriteString("at", Time(record.At));
            json.WriteString("client", record.Client);
            json.WritePropertyName("detail");
            json.WriteRawValue(record.Detail, skipInputValidation: false);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
