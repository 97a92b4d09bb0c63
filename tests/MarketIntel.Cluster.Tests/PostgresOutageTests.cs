using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Tests;
using Npgsql;

namespace MarketIntel.Cluster.Tests;

/// <summary>PostgreSQL is the source of truth: while it is down nothing is acknowledged, and nothing changes.</summary>
public sealed class PostgresOutageTests : IDisposable
{
    private readonly PostgresServer _postgres = PostgresServer.Start();
    private readonly RedisServer _redis = RedisServer.Start();
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

    private async Task<IngestBarsReply> Send(IngestBarsRequest request)
    {
        using var call = _silo!.Client.IngestBars(deadline: DateTime.UtcNow.AddSeconds(60));
        await call.RequestStream.WriteAsync(request);
        await call.RequestStream.CompleteAsync();
        return await call;
    }

    [Fact]
    public async Task Bars_sent_while_PostgreSQL_is_down_are_refused_as_unavailable_and_change_nothing_then_go_in_when_it_is_back()
    {
        string database = _postgres.CreateDatabase("grid");
        await using (var data = NpgsqlDataSource.Create(database))
        {
            await Storage.Postgres.Migrations.Migrator.MigrateAsync(data);
        }
        _silo = SiloProcess.Start("pg", _redis.Endpoint, database);
        await _silo.WaitReady(TimeSpan.FromSeconds(90));
        Assert.Equal(100, (await Send(Bars(0, 100))).Accepted);
        var before = await _silo.Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "PG" });

        _postgres.Stop();
        var e = await Assert.ThrowsAsync<RpcException>(() => Send(Bars(100, 50)));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains("no bar of this call was accepted", e.Status.Detail, StringComparison.Ordinal);
        var during = await _silo.Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = "PG" });
        Assert.Equal(before.AsOf, during.AsOf);
        Assert.Equal(before.Values, during.Values);

        _postgres.Restart();
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
        _redis.Dispose();
        _postgres.Dispose();
    }
}
