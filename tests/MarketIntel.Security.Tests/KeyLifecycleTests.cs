using Grpc.Core;
using MarketIntel.Abstractions;
using MarketIntel.Api.V1;
using MarketIntel.Server.Security;
using Microsoft.Extensions.Logging;

using MarketIntel.Server.Tests;

namespace MarketIntel.Security.Tests;

/// <summary>Keys created or revoked while the server runs, and the audit log of what admin keys did.</summary>
[Collection("auth")]
public sealed class KeyLifecycleTests(AuthFixture server)
{
    [Fact]
    public async Task A_key_created_while_serving_opens_the_grid_and_stops_the_moment_it_is_revoked()
    {
        var store = new FileApiKeyStore(server.KeysFile);
        var (key, record) = ApiKeys.Create("late-reader", ApiRole.Reader, DateTimeOffset.UtcNow);
        await store.Add(record);
        var client = new Grid.GridClient(server.Channel);

        Assert.Equal(StatusCode.NotFound, await Eventually(client, key, StatusCode.NotFound));
        await store.Revoke("late-reader", DateTimeOffset.UtcNow);
        Assert.Equal(StatusCode.Unauthenticated, await Eventually(client, key, StatusCode.Unauthenticated));
    }

    // The status of Predict for an unknown asset with this key, once it is the one expected (keys are read again
    // every 0.2 s in the fixture) or after 10 s.
    private static async Task<StatusCode> Eventually(Grid.GridClient client, string key, StatusCode expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        StatusCode status;
        do
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await client.PredictAsync(new PredictRequest { Asset = "NEVER_INGESTED" }, AuthFixture.As(key)));
            status = e.StatusCode;
            if (status == expected)
            {
                break;
            }
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        return status;
    }

    [Fact]
    public async Task Admin_actions_and_refusals_of_known_keys_are_in_the_audit_log_by_name_and_never_the_key()
    {
        var client = new Grid.GridClient(server.Channel);
        string version = Guid.NewGuid().ToString("N");
        await client.RegisterModelAsync(new RegisterModelRequest { Name = "audited", Version = version, Model = Bars.File(AuthFixture.PushedModel) }, AuthFixture.As(server.Keys["admin"]));
        await Assert.ThrowsAsync<RpcException>(async () => await client.RegisterModelAsync(
            new RegisterModelRequest { Name = "audited", Version = version + "x", Model = Bars.File(AuthFixture.PushedModel) }, AuthFixture.As(server.Keys["reader"])));

        var audit = server.Log.Where(l => l.Category == AuthFixture.AuditLogCategory).Select(l => l.Message).ToList();
        Assert.Contains("audit: key 'admin' /marketintel.v1.Grid/RegisterModel: grpc-status 0", audit);
        Assert.Contains("audit: key 'reader' (role reader) refused /marketintel.v1.Grid/RegisterModel, which needs admin", audit);
        Assert.DoesNotContain(server.Log, l => server.Keys.Values.Any(k => l.Message.Contains(k, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_key_over_its_request_rate_is_refused_while_other_keys_are_served()
    {
        var client = new Grid.GridClient(server.Channel);
        var hurried = AuthFixture.As(server.Keys["hurried"]);
        int refused = 0;
        string? message = null;
        await Parallel.ForAsync(0, 6 * AuthFixture.RequestsPerSecond, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, _) =>
        {
            try
            {
                await client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "NEVER_INGESTED" }, hurried);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                Interlocked.Increment(ref refused);
                message = e.Status.Detail;
            }
            catch (RpcException)
            {
            }
        });
        Assert.True(refused > 0, "no request of the hurried key was refused");
        Assert.Equal($"key 'hurried' is over its limit of {AuthFixture.RequestsPerSecond} requests per second (setting Limits:RequestsPerSecondPerKey)", message);
        var other = await Assert.ThrowsAsync<RpcException>(async () => await client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "NEVER_INGESTED" }, AuthFixture.As(server.Keys["reader"])));
        Assert.Equal(StatusCode.NotFound, other.StatusCode);
    }
}
