using System.Text.Json;
using Grpc.Core;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Server.Application;
using MarketIntel.Server.Security;
using Microsoft.AspNetCore.Http.Features;
using V1 = MarketIntel.Api.V1;

namespace MarketIntel.Server.Api;

/// <summary>
/// Retraining jobs over gRPC (service <c>marketintel.v1.Retrain</c>): validate, call <see cref="RetrainOperations"/>,
/// map back. Starting and cancelling need the admin role (as promotion does), reading the reader role.
/// </summary>
internal sealed class RetrainService(RetrainOperations retrain) : V1.Retrain.RetrainBase
{
    private static string Client(ServerCallContext context) => ModelsHttpApi.Client(context.GetHttpContext());

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.RetrainStartReply> Start(V1.StartRetrainRequest request, ServerCallContext context)
    {
        RetrainRequest checkedRequest = RetrainMapping.Request(request.Name, request.Assets.Count > 0 ? [.. request.Assets] : null,
            Optional(request.Spec), Optional(request.Label), request.Force, Optional(request.Reason), Client(context), field: "");
        return RetrainMapping.ToMessage(await retrain.Start(checkedRequest));
    }

    [RequiresRole(ApiRole.Reader)]
    public override async Task<V1.RetrainJobList> List(V1.ListRetrainJobsRequest request, ServerCallContext context)
    {
        // The coordinator checks the limit's range.
        int limit = request.Limit == 0 ? RetrainMapping.DefaultListLimit : request.Limit;
        return RetrainMapping.ToMessage(await retrain.List(Mapping.ModelName(request.Name), limit));
    }

    [RequiresRole(ApiRole.Reader)]
    public override async Task<V1.RetrainJob> Get(V1.RetrainJobRequest request, ServerCallContext context) =>
        RetrainMapping.ToMessage(await retrain.Get(Mapping.ModelName(request.Name), RetrainMapping.JobId(request.Id)));

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.RetrainJob> Cancel(V1.RetrainJobRequest request, ServerCallContext context) =>
        RetrainMapping.ToMessage(await retrain.Cancel(Mapping.ModelName(request.Name), RetrainMapping.JobId(request.Id), Client(context)));

    [RequiresRole(ApiRole.Reader)]
    public override async Task Watch(V1.RetrainJobRequest request, IServerStreamWriter<V1.RetrainJob> responseStream, ServerCallContext context)
    {
        string name = Mapping.ModelName(request.Name);
        string id = RetrainMapping.JobId(request.Id);
        try
        {
            await foreach (RetrainJob job in retrain.Watch(name, id, context.CancellationToken))
            {
                await responseStream.WriteAsync(RetrainMapping.ToMessage(job), context.CancellationToken);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The client stopped following; the job goes on.
        }
    }

    // proto3 strings are never null: empty is "not given".
    private static string? Optional(string value) => value.Length == 0 ? null : value;
}

/// <summary>
/// <c>POST /models/{name}/retrain</c> (202 started, 409 held back by the debounce, each with
/// <c>{"started","reason","job"}</c>), <c>GET /models/{name}/retrain</c>, <c>GET|DELETE /models/{name}/retrain/{id}</c>:
/// the same calls as <see cref="RetrainService"/>, in the one JSON form of a job (<see cref="RetrainJobJson"/>, which the
/// job store and the job events use too), with the fields of the gRPC messages.
/// </summary>
internal static class RetrainHttpApi
{
    /// <summary>The paths, for the index.</summary>
    internal static readonly (string Path, string What)[] Paths =
    [
        ("POST /models/{name}/retrain", "starts a retraining job; optional body {\"assets\": [...], \"spec\": \"...\", \"label\": \"up_K\", \"force\": true, \"reason\": \"...\"}; 202 started, 409 held back (one active job per model, a minimum interval) with the active job (admin)"),
        ("GET /models/{name}/retrain", "the model's retraining jobs, newest first; ?limit=N (reader)"),
        ("GET /models/{name}/retrain/{id}", "one retraining job: state, progress, the challenger registered (reader)"),
        ("DELETE /models/{name}/retrain/{id}", "cancels the job; answers its record (admin)"),
    ];

    // Every field is optional, and so is the body.
    private const string Example = "{\"assets\": [\"MSFT\"], \"spec\": \"rsi_14,roc_5\", \"label\": \"up_5\", \"force\": true, \"reason\": \"new data\"} (every field optional, or no body)";

    public static void MapRetrainHttpApi(this IEndpointRouteBuilder app)
    {
        var retrain = app.ServiceProvider.GetRequiredService<RetrainOperations>();
        var admin = new RequiresRoleAttribute(ApiRole.Admin);
        var reader = new RequiresRoleAttribute(ApiRole.Reader);

        app.MapPost("/models/{name}/retrain", (string name, HttpContext http) => ModelsHttpApi.Answer(http, async () =>
        {
            RetrainRequest request = await Request(name, http);
            return await retrain.Start(request);
        }, RetrainJobJson.WriteStart, reply => reply.Started ? StatusCodes.Status202Accepted : StatusCodes.Status409Conflict)).WithMetadata(admin);
        app.MapGet("/models/{name}/retrain", (string name, HttpContext http) => ModelsHttpApi.Answer(http, async () =>
            await retrain.List(Mapping.ModelName(name), ModelsHttpApi.Limit(http)), RetrainJobJson.WriteList)).WithMetadata(reader);
        app.MapGet("/models/{name}/retrain/{id}", (string name, string id, HttpContext http) => ModelsHttpApi.Answer(http, async () =>
            await retrain.Get(Mapping.ModelName(name), RetrainMapping.JobId(id)), RetrainJobJson.WriteJob)).WithMetadata(reader);
        app.MapDelete("/models/{name}/retrain/{id}", (string name, string id, HttpContext http) => ModelsHttpApi.Answer(http, async () =>
            await retrain.Cancel(Mapping.ModelName(name), RetrainMapping.JobId(id), ModelsHttpApi.Client(http)), RetrainJobJson.WriteJob)).WithMetadata(admin);
    }

    // The body is optional: none retrains with the served version's lineage. Every field is checked here, so a
    // mistake is named before the coordinator sees the request.
    private static async Task<RetrainRequest> Request(string name, HttpContext http)
    {
        string model = Mapping.ModelName(name);
        if (http.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return RetrainMapping.Request(model, null, null, null, false, null, ModelsHttpApi.Client(http), field: "body: ");
        }
        using (JsonDocument body = await ModelsHttpApi.Body(http, Example))
        {
            JsonElement root = body.RootElement;
            string[]? assets = null;
            string? spec = null, label = null, reason = null;
            bool force = false;
            foreach (JsonProperty field in root.EnumerateObject())
            {
                JsonElement value = field.Value;
                switch (field.Name)
                {
                    case "assets":
                        assets = value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(a => a.ValueKind == JsonValueKind.String)
                            ? [.. value.EnumerateArray().Select(a => a.GetString()!)]
                            : throw Errors.InvalidArgument($"body: 'assets' must be an array of asset symbols, not {value.GetRawText()}");
                        break;
                    case "spec":
                        spec = String(field);
                        break;
                    case "label":
                        label = String(field);
                        break;
                    case "reason":
                        reason = String(field);
                        break;
                    case "force":
                        force = value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean()
                            : throw Errors.InvalidArgument($"body: 'force' must be true or false, not {value.GetRawText()}");
                        break;
                    default:
                        throw Errors.InvalidArgument($"body: unknown field '{field.Name}' (the body takes assets, spec, label, force and reason, e.g. {Example})");
                }
            }
            return RetrainMapping.Request(model, assets, spec, label, force, reason, ModelsHttpApi.Client(http), field: "body: ");
        }
    }

    private static string? String(JsonProperty field) => field.Value.ValueKind switch
    {
        JsonValueKind.String => field.Value.GetString(),
        JsonValueKind.Null => null,
        _ => throw Errors.InvalidArgument($"body: '{field.Name}' must be a string, not {field.Value.GetRawText()}"),
    };
}

/// <summary>A retraining request checked field by field, and the grid's job records as the API's messages.</summary>
internal static class RetrainMapping
{
    /// <summary>How many jobs a list answers without a limit.</summary>
    public const int DefaultListLimit = ModelsHttpApi.DefaultAuditLimit;

    /// <summary>The most assets one request may name.</summary>
    public const int MaxAssets = 1000;

    /// <summary>The longest reason kept in a job's record.</summary>
    public const int MaxReasonLength = 500;

    /// <summary>The reason a request by hand gets when it gives none.</summary>
    public const string DefaultReason = "by hand";

    /// <summary>
    /// A manual request for model <paramref name="name"/>, its fields checked as the API checks every request (the
    /// coordinator checks the spec and the label, as it does for every trigger); an error names the field, after
    /// <paramref name="field"/> (<c>"body: "</c> over HTTP).
    /// </summary>
    public static RetrainRequest Request(string name, IReadOnlyList<string>? assets, string? spec, string? label, bool force, string? reason, string client, string field)
    {
        string model = Mapping.ModelName(name);
        if (assets is { Count: 0 or > MaxAssets })
        {
            throw Errors.InvalidArgument($"{field}assets: {assets.Count} given; name 1 to {MaxAssets} assets, or leave them out for the served version's");
        }
        string[]? symbols = assets is null ? null : [.. assets.Select((a, i) => Mapping.Asset(a, $"{field}assets[{i}]"))];
        if (symbols is not null && symbols.Distinct(StringComparer.Ordinal).Count() != symbols.Length)
        {
            throw Errors.InvalidArgument($"{field}assets: '{symbols.GroupBy(s => s, StringComparer.Ordinal).First(g => g.Count() > 1).Key}' is named twice");
        }
        if (reason is { Length: > MaxReasonLength })
        {
            throw Errors.InvalidArgument($"{field}reason: {reason.Length} characters; at most {MaxReasonLength}");
        }
        return new RetrainRequest(model, RetrainTrigger.Manual, string.IsNullOrWhiteSpace(reason) ? DefaultReason : reason, client)
        {
            Assets = symbols,
            Spec = spec,
            Label = label?.Trim(),
            Force = force,
        };
    }

    /// <summary>A job id from a request: 1 to 128 letters, digits, '.', '_' and '-', as model names and versions.</summary>
    public static string JobId(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw Errors.InvalidArgument("id: a job id is required");
        }
        Mapping.CheckModelPart("id", id);
        return id;
    }

    public static V1.RetrainStartReply ToMessage(RetrainStart start)
    {
        var reply = new V1.RetrainStartReply { Started = start.Started, Reason = start.Reason };
        if (start.Job is { } job)
        {
            reply.Job = ToMessage(job);
        }
        return reply;
    }

    public static V1.RetrainJobList ToMessage(IReadOnlyList<RetrainJob> jobs)
    {
        var list = new V1.RetrainJobList();
        list.Jobs.AddRange(jobs.Select(ToMessage));
        return list;
    }

    public static V1.RetrainJob ToMessage(RetrainJob job)
    {
        RetrainProgress p = job.Progress;
        var progress = new V1.RetrainProgress
        {
            BarsRead = p.BarsRead,
            Rows = p.Rows,
            FoldsDone = p.FoldsDone,
            Folds = p.Folds,
            RoundsDone = p.RoundsDone,
            Rounds = p.Rounds,
        };
        foreach (var (score, value) in p.Validation ?? new Dictionary<string, double>())
        {
            progress.Validation[score] = value;
        }
        var message = new V1.RetrainJob
        {
            Id = job.Id,
            Name = job.Request.Name,
            Trigger = Name(job.Request.Trigger.ToString()),
            Reason = job.Request.Reason,
            Client = job.Request.Client,
            Spec = job.Request.Spec ?? "",
            Label = job.Request.Label ?? "",
            Force = job.Request.Force,
            State = Name(job.State.ToString()),
            Detail = job.Detail,
            Progress = progress,
            BaseVersion = job.BaseVersion ?? "",
            Version = job.Version ?? "",
            Attempt = job.Attempt,
            Worker = job.Worker ?? "",
            Through = job.Through,
            CreatedAt = job.CreatedAt,
            UpdatedAt = job.UpdatedAt,
            FinishedAt = job.FinishedAt ?? 0,
        };
        message.Assets.AddRange(job.Request.Assets ?? []);
        message.TriggerAssets.AddRange(job.Request.TriggerAssets ?? []);
        return message;
    }

    // ScoreDecay -> scoreDecay: the names the job's JSON (RetrainJobJson) gives them.
    private static string Name(string name) => JsonNamingPolicy.CamelCase.ConvertName(name);
}
