using System.Net;
using System.Text;
using System.Text.Json;
using MarketIntel.Api.V1;

namespace MarketIntel.Server.Tests;

/// <summary>
/// The model registry over HTTP/JSON on the real host: register a model file with an alias, set its lineage and tags,
/// move the alias, split it, add a shadow, read the model and its audit log back, and assign assets to the alias over
/// gRPC so that their predictions follow it. Bad requests are refused naming the field at fault and change nothing.
/// </summary>
[Collection("server")]
public sealed class ModelsHttpApiTests(ServerFixture server)
{
    private static readonly byte[] Logistic = File.ReadAllBytes(ServerFixture.PushedModel);

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..24];

    private static async Task<JsonElement> Json(HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private Task<HttpResponseMessage> Put(string path, string json) => server.Http.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task A_model_is_registered_with_an_alias_described_moved_split_shadowed_and_audited()
    {
        string name = Unique("http");
        JsonElement v1 = await Json(await server.Http.PutAsync($"/models/{name}/versions/v1?alias=champion", new ByteArrayContent(Logistic)));
        Assert.Equal("v1", v1.GetProperty("version").GetString());
        Assert.Equal(64, v1.GetProperty("sha256").GetString()!.Length);
        Assert.Equal(JsonValueKind.Null, v1.GetProperty("lineage").ValueKind);
        await Json(await server.Http.PutAsync($"/models/{name}/versions/v2", new ByteArrayContent(Logistic)));

        const string lineage = "{\"tool\": \"test\", \"label\": {\"kind\": \"direction\", \"horizon\": 4}}";
        JsonElement withLineage = await Json(await Put($"/models/{name}/versions/v2/lineage", lineage));
        Assert.Equal("up_4", withLineage.GetProperty("label").GetString());
        Assert.Equal(4, withLineage.GetProperty("lineage").GetProperty("label").GetProperty("horizon").GetInt32());
        JsonElement tagged = await Json(await server.Http.PostAsync($"/models/{name}/versions/v2/tags",
            new StringContent("{\"set\": {\"stage\": \"challenger\"}}", Encoding.UTF8, "application/json")));
        Assert.Equal("challenger", tagged.GetProperty("tags").GetProperty("stage").GetString());

        // Assets assigned to the alias over gRPC predict with the version it names, and follow it when it moves.
        string asset = Unique("HTTPA").ToUpperInvariant();
        Assert.Equal(HttpStatusCode.NoContent, (await Put($"/features/{asset}", "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]")).StatusCode);
        await server.Grpc.AssignModelAsync(new AssignModelRequest { Name = name, Version = "@champion", Assets = { asset } });
        Assert.Equal("v1", (await Json(await server.Http.GetAsync($"/predict/{asset}"))).GetProperty("version").GetString());
        JsonElement moved = await Json(await Put($"/models/{name}/aliases/champion", "{\"version\": \"v2\", \"autoPromote\": true}"));
        Assert.Equal("v2", moved.GetProperty("aliases").GetProperty("champion").GetProperty("version").GetString());
        Assert.True(moved.GetProperty("aliases").GetProperty("champion").GetProperty("autoPromote").GetBoolean());
        Assert.Equal("v2", (await Json(await server.Http.GetAsync($"/predict/{asset}"))).GetProperty("version").GetString());

        JsonElement split = await Json(await Put($"/models/{name}/aliases/champion/split", "{\"version\": \"v1\", \"weight\": 0.25}"));
        Assert.Equal(0.25, split.GetProperty("aliases").GetProperty("champion").GetProperty("split").GetProperty("weight").GetDouble());
        await Json(await server.Http.PutAsync($"/models/{name}/shadows/v1", null));

        JsonElement model = await Json(await server.Http.GetAsync($"/models/{name}"));
        Assert.Equal(["v1", "v2"], model.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        Assert.Equal(["v1"], model.GetProperty("shadows").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal("v1", model.GetProperty("aliases").GetProperty("champion").GetProperty("split").GetProperty("version").GetString());
        Assert.True(DateTimeOffset.TryParse(model.GetProperty("versions")[0].GetProperty("createdAt").GetString(), out _));
        Assert.Contains((await Json(await server.Http.GetAsync("/models"))).GetProperty("models").EnumerateArray(), m => m.GetProperty("name").GetString() == name);

        await Json(await server.Http.DeleteAsync($"/models/{name}/shadows/v1"));
        await Json(await server.Http.DeleteAsync($"/models/{name}/aliases/champion/split"));
        JsonElement removed = await Json(await server.Http.DeleteAsync($"/models/{name}/aliases/champion"));
        Assert.Empty(removed.GetProperty("aliases").EnumerateObject());

        JsonElement audit = await Json(await server.Http.GetAsync($"/models/{name}/audit"));
        Assert.Equal(
            ["register", "alias-set", "register", "lineage", "tags", "alias-set", "auto-promote", "split", "shadow-added", "shadow-removed", "split", "alias-removed"],
            audit.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("action").GetString()));
        Assert.All(audit.GetProperty("records").EnumerateArray(), r => Assert.Equal("local", r.GetProperty("client").GetString()));
        Assert.Equal(2, (await Json(await server.Http.GetAsync($"/models/{name}/audit?limit=2"))).GetProperty("records").GetArrayLength());
    }

    [Fact]
    public async Task Bad_requests_name_the_field_at_fault_and_change_nothing()
    {
        string name = Unique("bad");
        await Json(await server.Http.PutAsync($"/models/{name}/versions/v1", new ByteArrayContent(Logistic)));

        JsonElement empty = await Json(await server.Http.PutAsync($"/models/{name}/versions/v2", new ByteArrayContent([])), HttpStatusCode.BadRequest);
        Assert.Contains("body: model", empty.GetProperty("error").GetString(), StringComparison.Ordinal);
        JsonElement label = await Json(await Put($"/models/{name}/versions/v1/lineage", "{\"label\": {\"kind\": \"direction\"}}"), HttpStatusCode.BadRequest);
        Assert.Contains("field 'label.horizon' is required", label.GetProperty("error").GetString(), StringComparison.Ordinal);
        JsonElement noVersion = await Json(await Put($"/models/{name}/aliases/champion", "{\"v\": 1}"), HttpStatusCode.BadRequest);
        Assert.Contains("body: 'version'", noVersion.GetProperty("error").GetString(), StringComparison.Ordinal);
        JsonElement unknown = await Json(await Put($"/models/{name}/aliases/champion", "{\"version\": \"v9\"}"), HttpStatusCode.NotFound);
        Assert.Equal($"model {name}@v9 is not registered", unknown.GetProperty("error").GetString());
        JsonElement notJson = await Json(await Put($"/models/{name}/aliases/champion", "{version"), HttpStatusCode.BadRequest);
        Assert.StartsWith("body: not JSON", notJson.GetProperty("error").GetString(), StringComparison.Ordinal);
        JsonElement weight = await Json(await Put($"/models/{name}/aliases/champion/split", "{\"version\": \"v1\", \"weight\": 0.25}"), HttpStatusCode.Conflict);
        Assert.Contains("has no alias 'champion' to split", weight.GetProperty("error").GetString(), StringComparison.Ordinal);
        JsonElement limit = await Json(await server.Http.GetAsync($"/models/{name}/audit?limit=0"), HttpStatusCode.BadRequest);
        Assert.StartsWith("limit: '0'", limit.GetProperty("error").GetString(), StringComparison.Ordinal);
        await Json(await server.Http.GetAsync("/models/nope-never-registered"), HttpStatusCode.NotFound);

        await Json(await Put($"/models/{name}/versions/v1/lineage", "{\"label\": {\"kind\": \"logReturn\", \"horizon\": 1}}"));
        JsonElement again = await Json(await Put($"/models/{name}/versions/v1/lineage", "{\"label\": {\"kind\": \"logReturn\", \"horizon\": 2}}"), HttpStatusCode.Conflict);
        Assert.Contains("lineage is set once", again.GetProperty("error").GetString(), StringComparison.Ordinal);

        JsonElement model = await Json(await server.Http.GetAsync($"/models/{name}"));
        Assert.Equal("logret_1", Assert.Single(model.GetProperty("versions").EnumerateArray()).GetProperty("label").GetString());
        Assert.Empty(model.GetProperty("aliases").EnumerateObject());
        Assert.Equal(["register", "lineage"], (await Json(await server.Http.GetAsync($"/models/{name}/audit"))).GetProperty("records").EnumerateArray().Select(r => r.GetProperty("action").GetString()));
    }

    [Fact]
    public async Task A_model_body_may_be_larger_than_the_one_mebibyte_of_other_bodies()
    {
        // 2 MiB that is not a model: read whole (not 413 Payload Too Large) and refused as a model that does not load.
        byte[] big = [.. "{\"learner\": "u8.ToArray(), .. Enumerable.Repeat((byte)' ', 2 << 20), .. "1}"u8.ToArray()];
        JsonElement refused = await Json(await server.Http.PutAsync($"/models/{Unique("big")}/versions/v1", new ByteArrayContent(big)), HttpStatusCode.BadRequest);
        Assert.Equal("INVALID_ARGUMENT", refused.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await Put("/features/BIGBODY", "[" + new string(' ', 2 << 20) + "1]")).StatusCode);
    }
}
