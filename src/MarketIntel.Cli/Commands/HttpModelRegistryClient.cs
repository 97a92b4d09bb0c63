using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MarketIntel.Api.V1;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The registry over the grid's HTTP/JSON API (docs/api.md, "Models"): each call sent to its path and the answer read
/// back into the gRPC service's message, so that a subcommand prints the same whichever way it asked.
/// </summary>
internal sealed class HttpModelRegistryClient(GridHttp http) : IModelRegistryClient
{
    public async Task<ListModelsReply> ListAsync(ListModelsRequest request)
    {
        JsonElement answer = await http.Send(HttpMethod.Get, "/models");
        var reply = new ListModelsReply();
        reply.Models.AddRange(Read(() => answer.GetProperty("models").EnumerateArray().Select(Model).ToList()));
        return reply;
    }

    public async Task<RegisteredModel> GetAsync(GetModelRequest request) =>
        Read(Model, await http.Send(HttpMethod.Get, Path(request.Name)));

    // HTTP takes the model file, its lineage and the alias in three calls: the alias moves last, once the version is
    // complete, so a lineage the grid refuses leaves no alias pointing at a version without one.
    public async Task<ModelVersion> RegisterAsync(RegisterVersionRequest request)
    {
        if (request.Tags.Count > 0)
        {
            throw new InvalidOperationException("tags at registration go over gRPC; over HTTP they are set afterwards with POST .../tags");
        }
        string version = Path(request.Name, "versions", request.Version);
        JsonElement answer = await http.Send(HttpMethod.Put, version, new ByteArrayContent(request.Model.ToByteArray()));
        if (request.Lineage.Length > 0)
        {
            answer = await http.Send(HttpMethod.Put, version + "/lineage", new StringContent(request.Lineage, Encoding.UTF8, "application/json"));
        }
        if (request.Alias.Length > 0)
        {
            await SetAliasAsync(new SetAliasRequest { Name = request.Name, Alias = request.Alias, Version = request.Version });
        }
        return Read(Version, answer);
    }

    public async Task<DeploymentInfo> SetAliasAsync(SetAliasRequest request) =>
        Read(Deployment, await http.Send(HttpMethod.Put, Path(request.Name, "aliases", request.Alias), Json(new JsonObject { ["version"] = request.Version })));

    public async Task<DeploymentInfo> RemoveAliasAsync(RemoveAliasRequest request) =>
        Read(Deployment, await http.Send(HttpMethod.Delete, Path(request.Name, "aliases", request.Alias)));

    public async Task<ModelVersion> SetTagsAsync(SetTagsRequest request)
    {
        var set = new JsonObject();
        foreach (var (key, value) in request.Set)
        {
            set[key] = value;
        }
        var body = new JsonObject { ["set"] = set, ["remove"] = new JsonArray([.. request.Remove.Select(k => JsonValue.Create(k))]) };
        return Read(Version, await http.Send(HttpMethod.Post, Path(request.Name, "versions", request.Version) + "/tags", Json(body)));
    }

    public async Task<DeploymentInfo> SetShadowAsync(SetShadowRequest request) =>
        Read(Deployment, await http.Send(request.Shadow ? HttpMethod.Put : HttpMethod.Delete, Path(request.Name, "shadows", request.Version)));

    // A weight of 0 ends the split, as in SetSplitRequest.
    public async Task<DeploymentInfo> SetSplitAsync(SetSplitRequest request)
    {
        string split = Path(request.Name, "aliases", request.Alias) + "/split";
        return Read(Deployment, request.Weight == 0
            ? await http.Send(HttpMethod.Delete, split)
            : await http.Send(HttpMethod.Put, split, Json(new JsonObject { ["version"] = request.Version, ["weight"] = request.Weight })));
    }

    public async Task<PromotionDecisionMessage> PromoteAsync(PromoteRequest request)
    {
        var body = new JsonObject { ["challenger"] = request.Challenger };
        if (request.Alias.Length > 0)
        {
            body["alias"] = request.Alias;
        }
        return Read(Decision, await http.Send(HttpMethod.Post, Path(request.Name) + "/promote", Json(body)));
    }

    // A matrix goes as text/csv (the grid builds the profile from it), a profile as the JSON it is.
    public async Task<ModelVersion> SetProfileAsync(SetProfileRequest request)
    {
        string path = Path(request.Name, "versions", request.Version) + "/profile";
        HttpContent body = request.SourceCase == SetProfileRequest.SourceOneofCase.MatrixCsv
            ? new StringContent(request.MatrixCsv, Encoding.UTF8, "text/csv")
            : new StringContent(request.Profile, Encoding.UTF8, "application/json");
        if (request.Bins != 0)
        {
            path += "?bins=" + request.Bins.ToString(CultureInfo.InvariantCulture);
        }
        return Read(Version, await http.Send(HttpMethod.Put, path, body));
    }

    // 0 for from, to or bins is "not given", as in ProfileFromArchiveRequest: the field stays out of the body.
    public async Task<ModelVersion> ProfileFromArchiveAsync(ProfileFromArchiveRequest request)
    {
        var body = new JsonObject { ["assets"] = new JsonArray([.. request.Assets.Select(a => JsonValue.Create(a))]) };
        if (request.From != 0)
        {
            body["from"] = Time(request.From);
        }
        if (request.To != 0)
        {
            body["to"] = Time(request.To);
        }
        if (request.Bins != 0)
        {
            body["bins"] = request.Bins;
        }
        return Read(Version, await http.Send(HttpMethod.Post, Path(request.Name, "versions", request.Version) + "/profile", Json(body)));
    }

    public void Dispose() => http.Dispose();

    private static string Path(string name, params string[] parts) =>
        "/models/" + string.Join('/', [Uri.EscapeDataString(name), .. parts.Select(Uri.EscapeDataString)]);

    private static JsonContent Json(JsonObject body) => JsonContent.Create(body);

    private static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static long UnixMs(JsonElement time) =>
        DateTimeOffset.Parse(time.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeMilliseconds();

    private T Read<T>(Func<JsonElement, T> read, JsonElement answer) => Read(() => read(answer));

    private T Read<T>(Func<T> read) => http.Read(read);

    private static string? OptionalString(JsonElement element) => element.ValueKind == JsonValueKind.Null ? null : element.GetString();

    private static RegisteredModel Model(JsonElement json)
    {
        var model = new RegisteredModel { Name = json.GetProperty("name").GetString(), Deployment = Deployment(json) };
        model.Versions.AddRange(json.GetProperty("versions").EnumerateArray().Select(Version));
        return model;
    }

    private static ModelVersion Version(JsonElement json)
    {
        var info = new ModelInfo
        {
            Name = json.GetProperty("name").GetString(),
            Version = json.GetProperty("version").GetString(),
            Kind = json.GetProperty("kind").GetString(),
            FeatureCount = json.GetProperty("featureCount").GetInt32(),
        };
        if (json.GetProperty("features") is { ValueKind: JsonValueKind.Array } features)
        {
            info.FeatureNames.AddRange(features.EnumerateArray().Select(f => f.GetString()));
        }
        info.OutputNames.AddRange(json.GetProperty("outputs").EnumerateArray().Select(o => o.GetString()));
        var version = new ModelVersion
        {
            Info = info,
            Label = OptionalString(json.GetProperty("label")) ?? "",
            Sha256 = json.GetProperty("sha256").GetString(),
            CreatedAt = UnixMs(json.GetProperty("createdAt")),
            // The grid embeds the lineage as it was given: its text is the lineage.
            Lineage = json.GetProperty("lineage") is { ValueKind: not JsonValueKind.Null } lineage ? lineage.GetRawText() : "",
            HasProfile = json.GetProperty("hasProfile").GetBoolean(),
        };
        foreach (JsonProperty tag in json.GetProperty("tags").EnumerateObject())
        {
            version.Tags[tag.Name] = tag.Value.GetString();
        }
        return version;
    }

    private static DeploymentInfo Deployment(JsonElement json)
    {
        var deployment = new DeploymentInfo { Name = json.GetProperty("name").GetString(), Epoch = json.GetProperty("epoch").GetInt64() };
        foreach (JsonProperty alias in json.GetProperty("aliases").EnumerateObject())
        {
            var target = new AliasInfo { Version = alias.Value.GetProperty("version").GetString(), AutoPromote = alias.Value.GetProperty("autoPromote").GetBoolean() };
            if (alias.Value.GetProperty("split") is { ValueKind: JsonValueKind.Object } split)
            {
                target.SplitVersion = split.GetProperty("version").GetString();
                target.SplitWeight = split.GetProperty("weight").GetDouble();
            }
            deployment.Aliases[alias.Name] = target;
        }
        deployment.Shadows.AddRange(json.GetProperty("shadows").EnumerateArray().Select(s => s.GetString()));
        return deployment;
    }

    // JSON has no NaN: the grid writes a statistic it could not compute as null, which gRPC carries as NaN.
    private static PromotionDecisionMessage Decision(JsonElement json)
    {
        var decision = new PromotionDecisionMessage
        {
            Name = json.GetProperty("name").GetString(),
            Alias = json.GetProperty("alias").GetString(),
            Champion = json.GetProperty("champion").GetString(),
            Challenger = json.GetProperty("challenger").GetString(),
            Promoted = json.GetProperty("promoted").GetBoolean(),
            Reason = json.GetProperty("reason").GetString(),
            Pairs = json.GetProperty("pairs").GetInt64(),
            DecidedAt = UnixMs(json.GetProperty("decidedAt")),
        };
        foreach (JsonProperty statistic in json.GetProperty("statistics").EnumerateObject())
        {
            decision.Statistics[statistic.Name] = statistic.Value.ValueKind == JsonValueKind.Null ? double.NaN : statistic.Value.GetDouble();
        }
        return decision;
    }
}
