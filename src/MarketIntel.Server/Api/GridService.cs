using Grpc.Core;
using MarketIntel.Abstractions;
using MarketIntel.Api.V1;
using MarketIntel.Server.Application;
using MarketIntel.Server.Limits;
using MarketIntel.Server.Security;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Api;

/// <summary>
/// The gRPC API: validates, maps, calls <see cref="GridOperations"/>, maps back. Grid errors become statuses in
/// <see cref="GridErrorInterceptor"/>.
/// </summary>
internal sealed class GridService(GridOperations operations, BarHolder holder, LivePredictions live, IOptions<LimitsOptions> limitOptions) : Grid.GridBase
{
    /// <summary>How many rejections an IngestBars reply lists (all are counted).</summary>
    public const int MaxListedRejections = 1000;

    private readonly LimitsOptions _limits = limitOptions.Value;

    [RequiresRole(ApiRole.Writer)]
    public override async Task<IngestBarsReply> IngestBars(IAsyncStreamReader<IngestBarsRequest> requestStream, ServerCallContext context)
    {
        var reply = new IngestBarsReply { Holder = holder.Id };
        int message = 0;
        long bars = 0;
        await foreach (IngestBarsRequest request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            message++;
            string asset = Mapping.Asset(request.Asset, $"message {message}: asset");
            holder.Check(request.ExpectedHolder, message);
            if (request.Bars.Count == 0)
            {
                continue;
            }
            if (request.Bars.Count > _limits.MaxBarsPerMessage)
            {
                throw Over.Limit($"message {message}: bars", request.Bars.Count, _limits.MaxBarsPerMessage, nameof(LimitsOptions.MaxBarsPerMessage));
            }
            bars += request.Bars.Count;
            if (bars > _limits.MaxBarsPerStream)
            {
                throw Over.Limit($"message {message}: bars in this call", bars, _limits.MaxBarsPerStream, nameof(LimitsOptions.MaxBarsPerStream));
            }
            var batch = request.ToBars();
            IngestResult result = await operations.AddBars(asset, batch);
            reply.Accepted += result.Accepted;
            reply.Ignored += result.Ignored;
            reply.Rejected += result.Rejected;
            foreach (string reason in result.Reasons)
            {
                if (reply.Rejections.Count >= MaxListedRejections)
                {
                    break;
                }
                reply.Rejections.Add(new Rejection { Asset = asset, Reason = reason });
            }
        }
        return reply;
    }

    [RequiresRole(ApiRole.Writer)]
    public override async Task<PushFeaturesReply> PushFeatures(PushFeaturesRequest request, ServerCallContext context)
    {
        string asset = Mapping.Asset(request.Asset);
        await operations.PushFeatures(asset, request.Values.ToArray());
        return new PushFeaturesReply();
    }

    [RequiresRole(ApiRole.Reader)]
    public override async Task<Prediction> Predict(PredictRequest request, ServerCallContext context) =>
        (await operations.Predict(Mapping.Asset(request.Asset))).ToMessage();

    [RequiresRole(ApiRole.Reader)]
    public override async Task<PredictBatchReply> PredictBatch(PredictBatchRequest request, ServerCallContext context)
    {
        if (request.Assets.Count > _limits.MaxAssetsPerBatch)
        {
            throw Over.Limit("assets", request.Assets.Count, _limits.MaxAssetsPerBatch, nameof(LimitsOptions.MaxAssetsPerBatch));
        }
        var results = await Task.WhenAll(request.Assets.Select(async (asset, i) =>
        {
            var result = new PredictBatchResult { Asset = asset };
            try
            {
                result.Prediction = (await operations.Predict(Mapping.Asset(asset, $"assets[{i}]"))).ToMessage();
            }
            catch (Exception e) when (Errors.AsGridError(e) is { } grid)
            {
                result.ErrorCode = Errors.Code(grid.Kind);
                result.Error = grid.Message;
            }
            return result;
        }));
        var reply = new PredictBatchReply();
        reply.Results.AddRange(results);
        return reply;
    }

    [RequiresRole(ApiRole.Reader)]
    public override async Task StreamPredictions(StreamPredictionsRequest request, IServerStreamWriter<Prediction> responseStream, ServerCallContext context)
    {
        live.CheckCount(request.Assets.Count);
        var assets = request.Assets.Select((a, i) => Mapping.Asset(a, $"assets[{i}]")).ToArray();
        // The response headers go out at once, so a client knows the stream is open before the first prediction.
        await live.Run(assets, context.GetHttpContext().Items[ApiKeyMiddleware.KeyItem] as Caller,
            () => context.WriteResponseHeadersAsync(new Metadata()),
            (prediction, ended) => responseStream.WriteAsync(prediction.ToMessage(), ended), context.CancellationToken);
    }

    [RequiresRole(ApiRole.Admin)]
    public override async Task<MarketIntel.Api.V1.ModelInfo> RegisterModel(RegisterModelRequest request, ServerCallContext context)
    {
        ModelRef model = Mapping.Model(request.Name, request.Version);
        if (request.Model.IsEmpty)
        {
            throw Errors.InvalidArgument($"model: model {model} has no bytes");
        }
        return (await operations.RegisterModel(model, request.Model.ToByteArray(), request.MakeDefault)).ToMessage();
    }

    [RequiresRole(ApiRole.Admin)]
    public override async Task<AssignModelReply> AssignModel(AssignModelRequest request, ServerCallContext context)
    {
        ModelRef model = Mapping.Model(request.Name, request.Version);
        if (request.Assets.Count == 0 && !request.MakeDefault)
        {
            throw Errors.InvalidArgument("assets: name at least one asset, or set make_default");
        }
        var assets = request.Assets.Select((a, i) => Mapping.Asset(a, $"assets[{i}]")).ToArray();
        await operations.AssignModel(model, assets, request.MakeDefault);
        return new AssignModelReply();
    }

    [RequiresRole(ApiRole.Reader)]
    public override async Task<MarketIntel.Api.V1.Features> GetFeatures(GetFeaturesRequest request, ServerCallContext context)
    {
        string asset = Mapping.Asset(request.Asset);
        FeatureSnapshot snapshot = await operations.GetFeatures(asset);
        var reply = new MarketIntel.Api.V1.Features { Asset = snapshot.Asset, AsOf = snapshot.AsOf };
        reply.Names.AddRange(snapshot.Names);
        reply.Values.AddRange(snapshot.Values);
        return reply;
    }
}
