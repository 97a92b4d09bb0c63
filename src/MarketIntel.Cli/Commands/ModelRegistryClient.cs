using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Abstractions;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The model registry calls <c>marketintel models</c> makes, in the gRPC service's messages whichever way they travel,
/// so that each subcommand is written once and prints the same over <c>grpc[s]://</c> and <c>http[s]://</c>.
/// A failure is one line naming the target (a <see cref="GridException"/> or an <see cref="IOException"/>).
/// </summary>
internal interface IModelRegistryClient : IDisposable
{
    Task<ListModelsReply> ListAsync(ListModelsRequest request);

    Task<RegisteredModel> GetAsync(GetModelRequest request);

    Task<ModelVersion> RegisterAsync(RegisterVersionRequest request);

    Task<DeploymentInfo> SetAliasAsync(SetAliasRequest request);

    Task<DeploymentInfo> RemoveAliasAsync(RemoveAliasRequest request);

    Task<ModelVersion> SetTagsAsync(SetTagsRequest request);

    Task<DeploymentInfo> SetShadowAsync(SetShadowRequest request);

    Task<DeploymentInfo> SetSplitAsync(SetSplitRequest request);

    Task<PromotionDecisionMessage> PromoteAsync(PromoteRequest request);

    Task<ModelVersion> SetProfileAsync(SetProfileRequest request);

    Task<ModelVersion> ProfileFromArchiveAsync(ProfileFromArchiveRequest request);
}

/// <summary>The model registry client for a command line's <c>--target</c>: HTTP/JSON or gRPC, as its scheme says.</summary>
internal static class ModelRegistryClient
{
    public static IModelRegistryClient For(string target, CliArguments options) =>
        GridHttp.Client<IModelRegistryClient>(target, options, http => new HttpModelRegistryClient(http), channel => new GrpcModelRegistryClient(target, channel));
}

/// <summary>The registry over the gRPC service <c>Models</c>: each call as it is, its status as one line.</summary>
internal sealed class GrpcModelRegistryClient(string target, GrpcChannel channel) : IModelRegistryClient
{
    private readonly Models.ModelsClient _client = new(channel);

    public Task<ListModelsReply> ListAsync(ListModelsRequest request) => Call(_client.ListAsync(request));

    public Task<RegisteredModel> GetAsync(GetModelRequest request) => Call(_client.GetAsync(request));

    public Task<ModelVersion> RegisterAsync(RegisterVersionRequest request) => Call(_client.RegisterAsync(request));

    public Task<DeploymentInfo> SetAliasAsync(SetAliasRequest request) => Call(_client.SetAliasAsync(request));

    public Task<DeploymentInfo> RemoveAliasAsync(RemoveAliasRequest request) => Call(_client.RemoveAliasAsync(request));

    public Task<ModelVersion> SetTagsAsync(SetTagsRequest request) => Call(_client.SetTagsAsync(request));

    public Task<DeploymentInfo> SetShadowAsync(SetShadowRequest request) => Call(_client.SetShadowAsync(request));

    public Task<DeploymentInfo> SetSplitAsync(SetSplitRequest request) => Call(_client.SetSplitAsync(request));

    public Task<PromotionDecisionMessage> PromoteAsync(PromoteRequest request) => Call(_client.PromoteAsync(request));

    public Task<ModelVersion> SetProfileAsync(SetProfileRequest request) => Call(_client.SetProfileAsync(request));

    public Task<ModelVersion> ProfileFromArchiveAsync(ProfileFromArchiveRequest request) => Call(_client.ProfileFromArchiveAsync(request));

    public void Dispose() => channel.Dispose();

    private Task<T> Call<T>(AsyncUnaryCall<T> call) => GrpcCalls.Unary(target, call);
}
