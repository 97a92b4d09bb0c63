using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Tests;
using Npgsql;

namespace MarketIntel.Cluster.Tests;

/// <summary>PostgreSQL is the source of truth: while it is down nothing is acknowledged, and nothing changes.</summary>
[Collection(ClusterGroup.Name)]
public sealed class PostgresOutageTests : IDisposable
{
    private readonly Servers _servers = new();
    private SiloProcess? _silo;

    private static IngestBarsRequest Bars(int from, int count)
    {
        var request = new IngestBarsRequest { Asset = "PG" };
        for (int i = from; i < from + count; i++)
        {
            double price = 50 + Math.Cos(i / 5.0);
            request.Bars.Add(new Api.V1.Bar { Timestamp = 1_700_000_000_000L + i * 60_000L, Open = price, High = price + 1, Low = price - 1, Close = price, Volume = 10 });
        }
        return request;
    }

    private Task<IngestBarsReply> Send(IngestBarsRequest request) => _silo!.Ingest(request, TimeSpan.FromSeconds(60));

    [Fact]
    public async Task Bars_sent_while_PostgreSQL_is_down_are_refused_as_unavailable_and_change_nothing_then_go_in_when_it_is_back()
    {
        string database = _servers.MigratedDatabase("grid");
        _silo = SiloProcess.Start("pg", _servers.Redis.Endpoint, database);
        await _silo.WaitReady(TimeSpan.FromSeconds(90));
        Assert.Equal(100, (await Send(Bars(0, 100))).Accepted);
        var before = await _silo.Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "PG" });

        _servers.Postgres.Stop();
        var e = await Assert.ThrowsAsync<RpcException>(() => Send(Bars(100, 50)));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains("this call's bars were not applied", e.Status.Detail, StringComparison.Ordinal);
        var during = await _silo.Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "PG" });
        Assert.Equal(before.AsOf, during.AsOf);
        Assert.Equal(before.Values, during.Values);
        // An asset that must be activated (its state read) gets a retryable error in one line, over HTTP too.
        using (var http = new HttpClient())
        {
            var response = await http.PutAsync($"http://127.0.0.1:{_silo.HttpPort}/features/NEWCOMER", new StringContent("[1,2,3]", System.Text.Encoding.UTF8, "application/json"));
            string body = await response.Content.ReadAsStringAsync();
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("\"code\":\"UNAVAILABLE\"", body, StringComparison.Ordinal);
            Assert.DoesNotContain(" at ", body, StringComparison.Ordinal);  // no stack trace
        }

        _servers.Postgres.Restart();
        IngestBarsReply reply = null!;
        for (int attempt = 1; attempt <= 40; attempt++)
        {
            try
            {
                reply = await Send(Bars(100, 50));
                break;
            }
            catch (RpcException again) when (again.StatusCode == StatusCode.Unavailable && attempt < 40)
            {
                await Task.Delay(250);  // the pool's broken connections are replaced
            }
        }
        Assert.Equal((50, 0), (reply.Accepted, reply.Ignored));
        await using var check = NpgsqlDataSource.Create(database);
        await using var count = check.CreateCommand("SELECT count(*) FROM bars WHERE asset = 'PG'");
        Assert.Equal(150L, await count.ExecuteScalarAsync());
    }

    public void Dispose()
    {
        _silo?.Dispose();
        _servers.Dispose();
    }
}
