using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using MarketIntel.Api.V1;

namespace MarketIntel.Security.Tests;

/// <summary>
/// The registry's HTTP endpoints take the roles RegisterModel and AssignModel take: changes need admin, reads need
/// reader; and each audit record names the key that made the change.
/// </summary>
[Collection("auth")]
public sealed class ModelRegistryAccessTests(AuthFixture server)
{
    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? key, HttpContent? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", server.Keys[key]);
        }
        return await server.Http.SendAsync(request);
    }

    [Fact]
    public async Task Changes_need_admin_reads_need_reader_and_the_audit_names_the_key()
    {
        string name = "acl-" + Guid.NewGuid().ToString("N")[..12];
        byte[] model = File.ReadAllBytes(AuthFixture.PushedModel);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, $"/models/{name}/versions/v1", "writer", new ByteArrayContent(model))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/models", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/models/{name}/versions/v1", "admin", new ByteArrayContent(model))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, $"/models/{name}/aliases/champion", "writer",
            new StringContent("{\"version\": \"v1\"}", Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/models/{name}/aliases/champion", "admin",
            new StringContent("{\"version\": \"v1\"}", Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, $"/models/{name}", "reader")).StatusCode);

        using HttpResponseMessage audit = await Send(HttpMethod.Get, $"/models/{name}/audit", "reader");
        using JsonDocument records = JsonDocument.Parse(await audit.Content.ReadAsStringAsync());
        Assert.Equal(["admin", "admin"], records.RootElement.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("client").GetString()));
    }

    [Fact]
    public async Task The_grpc_registry_takes_the_same_roles()
    {
        var models = new Models.ModelsClient(server.Channel);
        var denied = await Assert.ThrowsAsync<RpcException>(async () => await models.SetAliasAsync(
            new SetAliasRequest { Name = "x", Alias = "champion", Version = "1" }, AuthFixture.As(server.Keys["writer"])));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("key 'writer' has role writer; /marketintel.v1.Models/SetAlias needs admin", denied.Status.Detail);
        var anonymous = await Assert.ThrowsAsync<RpcException>(async () => await models.ListAsync(new ListModelsRequest(), AuthFixture.As(null)));
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        await models.ListAsync(new ListModelsRequest(), AuthFixture.As(server.Keys["reader"]));
    }

    [Fact]
    public async Task A_profile_is_given_by_admin_read_by_reader_and_its_audit_names_the_key()
    {
        string name = "acl-profile-" + Guid.NewGuid().ToString("N")[..12];
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/models/{name}/versions/v1", "admin", new ByteArrayContent(File.ReadAllBytes(AuthFixture.PushedModel)))).StatusCode);
        string[] names = ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"];
        string profile = MarketIntel.Training.Drift.ProfileBuilder.Build(names, [.. names.Select(_ => new float[] { 1, 2, 3 })], null, "acl", 2).ToJson();
        StringContent Json() => new(profile, Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, $"/models/{name}/versions/v1/profile", "writer", Json())).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, $"/models/{name}/versions/v1/profile", "writer",
            new StringContent("{\"assets\": [\"A\"]}", Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, $"/models/{name}/versions/v1/profile", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/models/{name}/versions/v1/profile", "admin", Json())).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, $"/models/{name}/versions/v1/profile", "reader")).StatusCode);

        var models = new Models.ModelsClient(server.Channel);
        var denied = await Assert.ThrowsAsync<RpcException>(async () => await models.SetProfileAsync(
            new SetProfileRequest { Name = name, Version = "v1", Profile = profile }, AuthFixture.As(server.Keys["writer"])));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal(profile, (await models.GetProfileAsync(new GetProfileRequest { Name = name, Version = "v1" }, AuthFixture.As(server.Keys["reader"]))).Profile);

        using HttpResponseMessage audit = await Send(HttpMethod.Get, $"/models/{name}/audit", "reader");
        using JsonDocument records = JsonDocument.Parse(await audit.Content.ReadAsStringAsync());
        JsonElement last = records.RootElement.GetProperty("records").EnumerateArray().Last();
        Assert.Equal("profile", last.GetProperty("action").GetString());
        Assert.Equal("admin", last.GetProperty("client").GetString());
    }
}
