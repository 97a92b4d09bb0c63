using Google.Protobuf;
using Grpc.Core;
using MarketIntel.Api.V1;

namespace MarketIntel.Server.Tests;

/// <summary>
/// The registry's gRPC service on the real host: registration with lineage, tags and alias; reads; alias, split and
/// shadow changes; the audit log; and the stream of changes, which hears an alias move made over HTTP.
/// </summary>
[Collection("server")]
public sealed class ModelsGrpcApiTests(ServerFixture server)
{
    private static readonly ByteString Logistic = ByteString.CopyFrom(File.ReadAllBytes(ServerFixture.PushedModel));

    private Models.ModelsClient Models => new(server.Channel);

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..24];

    [Fact]
    public async Task A_version_is_registered_with_lineage_tags_and_alias_and_every_change_is_read_back_and_audited()
    {
        string name = Unique("grpc");
        ModelVersion v1 = await Models.RegisterAsync(new RegisterVersionRequest
        {
            Name = name, Version = "v1", Model = Logistic, Alias = "champion", Tags = { ["owner"] = "ana" },
            Lineage = "{\"label\": {\"kind\": \"logReturn\", \"horizon\": 3}}",
        });
        Assert.Equal("logret_3", v1.Label);
        Assert.Equal(64, v1.Sha256.Length);
        Assert.Equal("ana", v1.Tags["owner"]);
        await Models.RegisterAsync(new RegisterVersionRequest { Name = name, Version = "v2", Model = Logistic });
        ModelVersion tagged = await Models.SetTagsAsync(new SetTagsRequest { Name = name, Version = "v2", Set = { ["stage"] = "shadow" } });
        Assert.Equal("shadow", tagged.Tags["stage"]);
        Assert.Equal("up_1", (await Models.SetLineageAsync(new SetLineageRequest { Name = name, Version = "v2", Lineage = "{\"label\": {\"kind\": \"direction\", \"horizon\": 1}}" })).Label);

        DeploymentInfo split = await Models.SetSplitAsync(new SetSplitRequest { Name = name, Alias = "champion", Version = "v2", Weight = 0.5 });
        Assert.Equal("v2", split.Aliases["champion"].SplitVersion);
        await Models.SetShadowAsync(new SetShadowRequest { Name = name, Version = "v2", Shadow = true });
        DeploymentInfo moved = await Models.SetAliasAsync(new SetAliasRequest { Name = name, Alias = "challenger", Version = "v2" });
        Assert.Equal("v2", moved.Aliases["challenger"].Version);
        DeploymentInfo removed = await Models.RemoveAliasAsync(new RemoveAliasRequest { Name = name, Alias = "challenger" });
        Assert.False(removed.Aliases.ContainsKey("challenger"));

        RegisteredModel model = await Models.GetAsync(new GetModelRequest { Name = name });
        Assert.Equal(["v1", "v2"], model.Versions.Select(v => v.Info.Version));
        Assert.Equal(["v2"], model.Deployment.Shadows);
        Assert.Equal(0.5, model.Deployment.Aliases["champion"].SplitWeight);
        Assert.Contains((await Models.ListAsync(new ListModelsRequest())).Models, m => m.Name == name);

        AuditReply audit = await Models.GetAuditAsync(new GetAuditRequest { Name = name });
        Assert.Equal(["register", "alias-set", "register", "tags", "lineage", "split", "shadow-added", "alias-set", "alias-removed"], audit.Records.Select(r => r.Action));
        Assert.All(audit.Records, r => Assert.Equal("local", r.Client));

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await Models.SetLineageAsync(new SetLineageRequest { Name = name, Version = "v1", Lineage = "{}" }));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        var bad = await Assert.ThrowsAsync<RpcException>(async () => await Models.RegisterAsync(new RegisterVersionRequest
        {
            Name = name, Version = "v3", Model = Logistic, Lineage = "{\"label\": {\"kind\": \"direction\", \"horizon\": -1}}",
        }));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("label.horizon", bad.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(2, (await Models.GetAsync(new GetModelRequest { Name = name })).Versions.Count);
    }

    [Fact]
    public async Task The_event_stream_carries_each_change_with_the_deployment_after_it()
    {
        string name = Unique("events");
        await Models.RegisterAsync(new RegisterVersionRequest { Name = name, Version = "v1", Model = Logistic });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using AsyncServerStreamingCall<ModelEventMessage> stream = Models.StreamEvents(new StreamModelEventsRequest { Name = name }, cancellationToken: cancel.Token);
        await stream.ResponseHeadersAsync;
        using var put = new HttpRequestMessage(HttpMethod.Put, $"/models/{name}/aliases/champion") { Content = new StringContent("{\"version\": \"v1\"}") };
        using HttpResponseMessage answer = await server.Http.SendAsync(put);
        Assert.True(answer.IsSuccessStatusCode);
        await Models.SetShadowAsync(new SetShadowRequest { Name = name, Version = "v1", Shadow = true });

        Assert.True(await stream.ResponseStream.MoveNext(cancel.Token));
        ModelEventMessage first = stream.ResponseStream.Current;
        Assert.Equal("alias-set", first.Change.Action);
        Assert.Equal("v1", first.Deployment.Aliases["champion"].Version);
        Assert.True(await stream.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal("shadow-added", stream.ResponseStream.Current.Change.Action);
        Assert.Equal(["v1"], stream.ResponseStream.Current.Deployment.Shadows);
    }
}
