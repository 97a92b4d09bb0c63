using System.Threading.Channels;
using Grpc.Core;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains;
using MarketIntel.Server.Application;
using MarketIntel.Server.Security;
using MarketIntel.Training.Drift;
using V1 = MarketIntel.Api.V1;

namespace MarketIntel.Server.Api;

/// <summary>
/// The model registry over gRPC (service <c>marketintel.v1.Models</c>): validates, maps, calls
/// <see cref="ModelOperations"/>, maps back. Grid errors become statuses in <see cref="GridErrorInterceptor"/>.
/// </summary>
internal sealed class ModelsService(ModelOperations models, ModelProfiles profiles, SiloModelEvents events) : V1.Models.ModelsBase
{
    /// <summary>How many changes a slow <c>StreamEvents</c> client may fall behind before the oldest are dropped for it.</summary>
    public const int EventBuffer = 1024;

    private static string Client(ServerCallContext context) => ModelsHttpApi.Client(context.GetHttpContext());

    private static string Alias(string alias)
    {
        Mapping.CheckModelPart("alias", alias);
        return alias;
    }

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.ModelVersion> Register(V1.RegisterVersionRequest request, ServerCallContext context)
    {
        ModelRef model = Mapping.Model(request.Name, request.Version);
        if (request.Model.IsEmpty)
        {
            throw Errors.InvalidArgument($"model: model {model} has no bytes");
        }
        var registration = new ModelRegistration(model.Name, model.Version, request.Model.ToByteArray(), request.Lineage.Length == 0 ? null : request.Lineage,
            request.Tags.Count == 0 ? null : new Dictionary<string, string>(request.Tags), request.Alias.Length == 0 ? null : Alias(request.Alias), Client(context));
        return ToMessage(await models.Register(registration));
    }

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.ModelVersion> SetLineage(V1.SetLineageRequest request, ServerCallContext context) =>
        ToMessage(await models.SetLineage(Mapping.Model(request.Name, request.Version), request.Lineage, Client(context)));

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.ModelVersion> SetTags(V1.SetTagsRequest request, ServerCallContext context) =>
        ToMessage(await models.SetTags(Mapping.Model(request.Name, request.Version), new Dictionary<string, string>(request.Set), [.. request.Remove], Client(context)));

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.PromotionDecisionMessage> Promote(V1.PromoteRequest request, ServerCallContext context)
    {
        string name = Mapping.ModelName(request.Name);
        Mapping.CheckModelPart("challenger", request.Challenger);
        string alias = request.Alias.Length == 0 ? ModelOperations.DefaultPromotionAlias : Alias(request.Alias);
        PromotionDecision decision = await models.Promote(name, request.Challenger, alias, Client(context));
        var message = new V1.PromotionDecisionMessage
        {
            Name = decision.Name, Alias = decision.Alias, Champion = decision.Champion, Challenger = decision.Challenger, Promoted = decision.Promoted,
            Reason = decision.Reason, Pairs = decision.Pairs, DecidedAt = decision.DecidedAt,
        };
        message.Statistics.Add(decision.Statistics.ToDictionary());
        return message;
    }

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.ModelVersion> SetProfile(V1.SetProfileRequest request, ServerCallContext context)
    {
        ModelRef model = Mapping.Model(request.Name, request.Version);
        return ToMessage(request.SourceCase switch
        {
            V1.SetProfileRequest.SourceOneofCase.Profile => await profiles.Set(model, request.Profile, Client(context)),
            V1.SetProfileRequest.SourceOneofCase.MatrixCsv => await profiles.FromMatrix(model, request.MatrixCsv, Bins(request.Bins), Client(context)),
            _ => throw Errors.InvalidArgument("source: give the profile JSON (profile) or a feature-matrix CSV (matrix_csv)"),
        });
    }

    [RequiresRole(ApiRole.Reader)]
    public override async Task<V1.ProfileReply> GetProfile(V1.GetProfileRequest request, ServerCallContext context) =>
        new() { Profile = await profiles.Get(Mapping.Model(request.Name, request.Version)) };

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.ModelVersion> ProfileFromArchive(V1.ProfileFromArchiveRequest request, ServerCallContext context)
    {
        ModelRef model = Mapping.Model(request.Name, request.Version);
        string[] assets = [.. request.Assets.Select(a => Mapping.Asset(a, "assets"))];
        return ToMessage(await profiles.FromArchive(model, assets, request.From == 0 ? long.MinValue : request.From, request.To == 0 ? long.MaxValue : request.To,
            Bins(request.Bins), Client(context), context.CancellationToken));
    }

    // 0 (unset) is the default; anything else is checked where the profile is built.
    private static int Bins(int bins) => bins == 0 ? ProfileBuilder.DefaultBins : bins;

    [RequiresRole(ApiRole.Reader)]
    public override async Task<V1.RegisteredModel> Get(V1.GetModelRequest request, ServerCallContext context) =>
        ToMessage(await models.Get(Mapping.ModelName(request.Name)));

    [RequiresRole(ApiRole.Reader)]
    public override async Task<V1.ListModelsReply> List(V1.ListModelsRequest request, ServerCallContext context)
    {
        var reply = new V1.ListModelsReply();
        reply.Models.AddRange((await models.List()).Select(ToMessage));
        return reply;
    }

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.DeploymentInfo> SetAlias(V1.SetAliasRequest request, ServerCallContext context)
    {
        ModelRef model = Mapping.Model(request.Name, request.Version);
        return ToMessage(await models.SetAlias(model.Name, Alias(request.Alias), model.Version, null, Client(context)));
    }

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.DeploymentInfo> RemoveAlias(V1.RemoveAliasRequest request, ServerCallContext context) =>
        ToMessage(await models.RemoveAlias(Mapping.ModelName(request.Name), Alias(request.Alias), Client(context)));

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.DeploymentInfo> SetSplit(V1.SetSplitRequest request, ServerCallContext context)
    {
        if (request.Weight == 0)
        {
            return ToMessage(await models.SetSplit(Mapping.ModelName(request.Name), Alias(request.Alias), null, Client(context)));
        }
        ModelRef arm = Mapping.Model(request.Name, request.Version);
        return ToMessage(await models.SetSplit(arm.Name, Alias(request.Alias), new ArmSplit(arm.Version, request.Weight), Client(context)));
    }

    [RequiresRole(ApiRole.Admin)]
    public override async Task<V1.DeploymentInfo> SetShadow(V1.SetShadowRequest request, ServerCallContext context) =>
        ToMessage(await models.SetShadow(Mapping.Model(request.Name, request.Version), request.Shadow, Client(context)));

    [RequiresRole(ApiRole.Reader)]
    public override async Task<V1.AuditReply> GetAudit(V1.GetAuditRequest request, ServerCallContext context)
    {
        var reply = new V1.AuditReply();
        reply.Records.AddRange((await models.Audit(Mapping.ModelName(request.Name), request.Limit == 0 ? ModelsHttpApi.DefaultAuditLimit : request.Limit)).Select(ToMessage));
        return reply;
    }

    [RequiresRole(ApiRole.Reader)]
    public override async Task StreamEvents(V1.StreamModelEventsRequest request, IServerStreamWriter<V1.ModelEventMessage> responseStream, ServerCallContext context)
    {
        string? name = request.Name.Length == 0 ? null : Mapping.ModelName(request.Name);
        // The silo's listener must never wait on a client: a client that falls behind loses its oldest changes.
        var buffer = Channel.CreateBounded<ModelEvent>(new BoundedChannelOptions(EventBuffer) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        using IDisposable listening = events.Listen(change =>
        {
            if (name is null || change.Change.Name == name)
            {
                buffer.Writer.TryWrite(change);
            }
        });
        // The headers go out at once, so a client knows it is subscribed before the first change.
        await context.WriteResponseHeadersAsync([]);
        try
        {
            await foreach (ModelEvent change in buffer.Reader.ReadAllAsync(context.CancellationToken))
            {
                var message = new V1.ModelEventMessage { Change = ToMessage(change.Change) };
                if (change.Deployment is { } deployment)
                {
                    message.Deployment = ToMessage(deployment);
                }
                await responseStream.WriteAsync(message);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The client ended the stream.
        }
    }

    private static V1.ModelVersion ToMessage(ModelVersionDetails version)
    {
        var message = new V1.ModelVersion
        {
            Info = version.Info.ToMessage(),
            Label = version.Info.Label ?? "",
            Sha256 = version.Sha256,
            CreatedAt = version.CreatedAt,
            Lineage = version.Lineage ?? "",
            HasProfile = version.HasProfile,
        };
        foreach (var (key, value) in version.Tags)
        {
            message.Tags[key] = value;
        }
        return message;
    }

    private static V1.RegisteredModel ToMessage(ModelDetails model)
    {
        var message = new V1.RegisteredModel { Name = model.Name, Deployment = ToMessage(model.Deployment) };
        message.Versions.AddRange(model.Versions.Select(ToMessage));
        return message;
    }

    private static V1.DeploymentInfo ToMessage(ModelDeployment deployment)
    {
        var message = new V1.DeploymentInfo { Name = deployment.Name, Epoch = deployment.Epoch };
        foreach (var (alias, target) in deployment.Aliases)
        {
            message.Aliases[alias] = new V1.AliasInfo
            {
                Version = target.Version,
                SplitVersion = target.Split?.Version ?? "",
                SplitWeight = target.Split?.Weight ?? 0,
                AutoPromote = target.AutoPromote,
            };
        }
        message.Shadows.AddRange(deployment.Shadows);
        return message;
    }

    private static V1.AuditRecord ToMessage(ModelAuditRecord record) => new()
    {
        Sequence = record.Sequence,
        Name = record.Name,
        Action = record.Action,
        Version = record.Version ?? "",
        At = record.At,
        Client = record.Client,
        Detail = record.Detail,
    };
}
