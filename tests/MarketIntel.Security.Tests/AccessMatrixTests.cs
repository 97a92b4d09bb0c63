using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using Grpc.Core.Interceptors;
using MarketIntel.Api.V1;

using MarketIntel.Server.Tests;

namespace MarketIntel.Security.Tests;

/// <summary>
/// Every gRPC method and HTTP endpoint against every kind of key: none, each role, a revoked key, a key never
/// created and a forged one (a real id with another secret). Each call that is let through must also succeed, so a
/// check that let the wrong key through, or refused the right one, fails here.
/// </summary>
[Collection("auth")]
public sealed class AccessMatrixTests(AuthFixture server)
{
    private static readonly string[] KeyNames = ["none", "reader", "writer", "admin", "revoked", "wrong", "forged"];

    // The least role of each gRPC method: the contract docs/api.md publishes.
    private static readonly Dictionary<string, string> GrpcRoles = new()
    {
        ["Predict"] = "reader",
        ["PredictBatch"] = "reader",
        ["StreamPredictions"] = "reader",
        ["GetFeatures"] = "reader",
        ["IngestBars"] = "writer",
        ["PushFeatures"] = "writer",
        ["RegisterModel"] = "admin",
        ["AssignModel"] = "admin",
        ["Scores/GetScores"] = "reader",
    };

    private static readonly Dictionary<string, string?> HttpRoles = new()
    {
        ["GET /predict/AUTHED"] = "reader",
        ["GET /features/AUTHED"] = "reader",
        ["PUT /features/AUTH_PUSHED"] = "writer",
        ["GET /metrics"] = "reader",
        ["GET /dashboard/"] = "admin",
        ["GET /models/auth-matrix/scores"] = "reader",
        ["GET /assets?search=AUTHED"] = "reader",
        ["GET /ui"] = "admin",
        ["GET /ui/static/assets.js"] = "admin",
        ["GET /ui/asset?symbol=AUTHED"] = "admin",
        ["GET /ui/reports"] = "admin",
        ["GET /healthz"] = null,
        ["GET /readyz"] = null,
        ["GET /"] = null,
    };

    public static TheoryData<string, string> GrpcCases() => Cases(GrpcRoles.Keys);

    public static TheoryData<string, string> HttpCases() => Cases(HttpRoles.Keys);

    private static TheoryData<string, string> Cases(IEnumerable<string> targets)
    {
        var data = new TheoryData<string, string>();
        foreach (string target in targets)
        {
            foreach (string key in KeyNames)
            {
                data.Add(target, key);
            }
        }
        return data;
    }

    // What a key of this name should get for a target needing that role (null: open to all).
    private static StatusCode Expected(string? required, string key)
    {
        if (required is null)
        {
            return StatusCode.OK;
        }
        int Rank(string role) => role switch { "reader" => 1, "writer" => 2, "admin" => 3, _ => 0 };
        int rank = Rank(key);
        return rank == 0 ? StatusCode.Unauthenticated : rank >= Rank(required) ? StatusCode.OK : StatusCode.PermissionDenied;
    }

    private string? Key(string name) => name == "none" ? null : server.Keys[name];

    [Theory]
    [MemberData(nameof(GrpcCases))]
    public async Task Each_gRPC_method_lets_through_exactly_the_roles_it_names(string method, string key)
    {
        StatusCode expected = Expected(GrpcRoles[method], key);
        StatusCode actual = await CallGrpc(method, Key(key));
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(HttpCases))]
    public async Task Each_HTTP_endpoint_lets_through_exactly_the_roles_it_names(string endpoint, string key)
    {
        StatusCode expected = Expected(HttpRoles[endpoint], key);
        HttpStatusCode actual = await CallHttp(endpoint, Key(key));
        Assert.Equal(expected switch
        {
            StatusCode.OK => endpoint.StartsWith("PUT", StringComparison.Ordinal) ? HttpStatusCode.NoContent : HttpStatusCode.OK,
            StatusCode.Unauthenticated => HttpStatusCode.Unauthorized,
            _ => HttpStatusCode.Forbidden,
        }, actual);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("reader", HttpStatusCode.Forbidden)]
    [InlineData("writer", HttpStatusCode.Forbidden)]
    // Let through: the page of this search has no assets, which the feed itself refuses (a stream that opened would not end).
    [InlineData("admin", HttpStatusCode.BadRequest)]
    public async Task The_consoles_live_feed_needs_the_admin_role(string? key, HttpStatusCode expected)
    {
        Assert.Equal(expected, await CallHttp("GET /ui/events?search=no-such-console-asset", key is null ? null : server.Keys[key]));
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("reader", HttpStatusCode.Forbidden)]
    [InlineData("writer", HttpStatusCode.Forbidden)]
    // Let through: the asset's version has no reference profile, so there is no window to chart.
    [InlineData("admin", HttpStatusCode.NotFound)]
    public async Task The_consoles_drift_charts_need_the_admin_role(string? key, HttpStatusCode expected)
    {
        Assert.Equal(expected, await CallHttp("GET /ui/charts/drift/AUTHED/roc_1.svg", key is null ? null : server.Keys[key]));
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("reader", HttpStatusCode.Forbidden)]
    [InlineData("writer", HttpStatusCode.Forbidden)]
    [InlineData("admin", HttpStatusCode.OK)]
    public async Task The_consoles_price_chart_needs_the_admin_role(string? key, HttpStatusCode expected)
    {
        Assert.Equal(expected, await CallHttp("GET /ui/charts/price/AUTHED.svg", key is null ? null : server.Keys[key]));
    }

    [Fact]
    public async Task A_refusal_says_what_is_missing_and_never_which_keys_exist()
    {
        var client = new Grid.GridClient(server.Channel);
        var none = await Assert.ThrowsAsync<RpcException>(async () => await client.PredictAsync(new PredictRequest { Asset = "AUTHED" }, AuthFixture.As(null)));
        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        Assert.Contains("authorization: Bearer KEY", none.Status.Detail, StringComparison.Ordinal);
        var revoked = await Assert.ThrowsAsync<RpcException>(async () => await client.PredictAsync(new PredictRequest { Asset = "AUTHED" }, AuthFixture.As(server.Keys["revoked"])));
        Assert.Equal(none.Status.Detail, revoked.Status.Detail);

        var denied = await Assert.ThrowsAsync<RpcException>(async () => await client.AssignModelAsync(
            new AssignModelRequest { Assets = { "AUTHED" }, Name = "x", Version = "1" }, AuthFixture.As(server.Keys["writer"])));
        Assert.Equal("key 'writer' has role writer; /marketintel.v1.Grid/AssignModel needs admin", denied.Status.Detail);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/predict/AUTHED");
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
        Assert.Contains("\"code\":\"UNAUTHENTICATED\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refusals_are_counted_on_metrics_by_reason()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, await CallHttp("GET /predict/AUTHED", null));
        Assert.Equal(HttpStatusCode.Forbidden, await CallHttp("PUT /features/AUTH_PUSHED", server.Keys["reader"]));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", server.Keys["reader"]);
        using var response = await server.Http.SendAsync(request);
        Scrape scrape = Scrape.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("counter", scrape.Type("marketintel_auth_denied_total"));
        Assert.True(scrape.Value("marketintel_auth_denied_total", "reason=\"unauthenticated\"") >= 1, scrape.Text);
        Assert.True(scrape.Value("marketintel_auth_denied_total", "reason=\"forbidden\"") >= 1, scrape.Text);
    }

    [Fact]
    public async Task A_browser_may_send_the_key_as_the_basic_password()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("anyone:"u8.ToArray().Concat(System.Text.Encoding.ASCII.GetBytes(server.Keys["admin"])).ToArray()));
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_path_that_matches_nothing_needs_a_key_before_it_is_found_missing()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, await CallHttp("GET /nothing/here", null));
        Assert.Equal(HttpStatusCode.NotFound, await CallHttp("GET /nothing/here", server.Keys["reader"]));
    }

    private async Task<StatusCode> CallGrpc(string method, string? key)
    {
        var client = new Grid.GridClient(server.Channel);
        var options = AuthFixture.As(key);
        await Seed();
        try
        {
            switch (method)
            {
                case "Predict":
                    await client.PredictAsync(new PredictRequest { Asset = "AUTHED" }, options);
                    break;
                case "PredictBatch":
                    var batch = await client.PredictBatchAsync(new PredictBatchRequest { Assets = { "AUTHED" } }, options);
                    Assert.Equal("", batch.Results[0].Error);
                    break;
                case "GetFeatures":
                    await client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "AUTHED" }, options);
                    break;
                case "StreamPredictions":
                    using (var call = client.StreamPredictions(new StreamPredictionsRequest { Assets = { "AUTHED" } }, options))
                    using (var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
                    {
                        // A refusal ends the stream with its status; an open stream waits for a bar, until cancelled here.
                        try
                        {
                            await call.ResponseStream.MoveNext(wait.Token);
                            return StatusCode.OK;
                        }
                        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && wait.IsCancellationRequested)
                        {
                            return StatusCode.OK;
                        }
                    }
                case "IngestBars":
                    using (var call = client.IngestBars(options))
                    {
                        // A refusal may come before the message is written; the call's own status says why either way.
                        try
                        {
                            await call.RequestStream.WriteAsync(new IngestBarsRequest { Asset = Bars.NewAsset("authingest"), Bars = { Bars.Range(0, 5) } });
                            await call.RequestStream.CompleteAsync();
                        }
                        catch (RpcException)
                        {
                        }
                        Assert.Equal(5, (await call.ResponseAsync).Accepted);
                    }
                    break;
                case "PushFeatures":
                    await client.PushFeaturesAsync(new PushFeaturesRequest { Asset = "AUTH_PUSHED", Values = { 1f, 2f } }, options);
                    break;
                case "RegisterModel":
                    await client.RegisterModelAsync(new RegisterModelRequest { Name = "auth-matrix", Version = Guid.NewGuid().ToString("N"), Model = Bars.File(AuthFixture.PushedModel) }, options);
                    break;
                case "AssignModel":
                    var model = await Admin.PredictAsync(new PredictRequest { Asset = "AUTHED" }, AuthFixture.As(server.Keys["admin"]));
                    await client.AssignModelAsync(new AssignModelRequest { Assets = { Bars.NewAsset("authassign") }, Name = model.Model, Version = model.Version }, options);
                    break;
                case "Scores/GetScores":
                    await new Scores.ScoresClient(server.Channel).GetScoresAsync(new GetScoresRequest { Name = "auth-matrix" }, options);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(method), method, null);
            }
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }

    private static Metadata Add(Metadata metadata, string? key)
    {
        if (key is not null)
        {
            metadata.Add("authorization", "Bearer " + key);
        }
        return metadata;
    }

    private Grid.GridClient Admin => new(server.Channel);

    // One asset with bars, ingested with the admin key once.
    private async Task Seed()
    {
        if (Interlocked.Exchange(ref _seeded, 1) == 0)
        {
            var admin = new Grid.GridClient(server.Channel.Intercept(m => Add(m, server.Keys["admin"])));
            await Bars.Ingest(admin, "AUTHED", Bars.Range(0, 60));
        }
    }

    private static int _seeded;

    private async Task<HttpStatusCode> CallHttp(string endpoint, string? key)
    {
        await Seed();
        string[] parts = endpoint.Split(' ');
        using var request = new HttpRequestMessage(new HttpMethod(parts[0]), parts[1]);
        if (parts[0] == "PUT")
        {
            request.Content = new StringContent("[1.5, 2.5]", System.Text.Encoding.UTF8, "application/json");
        }
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await server.Http.SendAsync(request);
        return response.StatusCode;
    }
}
