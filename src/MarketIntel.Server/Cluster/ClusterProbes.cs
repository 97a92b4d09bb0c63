using MarketIntel.Cache.Redis.Hosting;
using MarketIntel.Server.Hosting;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Migrations;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace MarketIntel.Server.Cluster;

/// <summary>
/// Checks cluster mode's servers when the host starts, before the silo joins membership: PostgreSQL must be
/// reachable with this build's schema, Redis reachable. A failure stops the start with one line naming the
/// setting (<see cref="ServerConfigurationException"/>) instead of Orleans' pages of traces. It runs in
/// <see cref="StartingAsync"/>, which the host runs for every such service before it starts any (Orleans' silo and
/// Kestrel included), so where it was registered does not matter.
/// </summary>
internal sealed class ClusterProbes(IOptions<PostgresOptions> postgres, IOptions<RedisCacheOptions> redis, NpgsqlDataSource database)
    : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await CheckDatabase(cancellationToken);
        await CheckRedis();
    }

    // A silo must not start against a database it cannot reach or whose schema is not this build's.
    private async Task CheckDatabase(CancellationToken cancellationToken)
    {
        string connection = postgres.Value.ConnectionString;
        try
        {
            await Migrator.EnsureCurrentAsync(database, cancellationToken);
        }
        catch (SchemaException e)
        {
            throw new ServerConfigurationException($"{PostgresOptions.Section}:ConnectionString: {e.Message}");
        }
        catch (PostgresException e)
        {
            throw new ServerConfigurationException($"{PostgresOptions.Section}:ConnectionString: PostgreSQL refused: {e.MessageText}");
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new ServerConfigurationException(
                $"{PostgresOptions.Section}:ConnectionString: cannot reach PostgreSQL at {PostgresOptions.Redact(connection)}: {e.Message}");
        }
    }

    // Membership needs Redis to join.
    private async Task CheckRedis()
    {
        string configuration = redis.Value.Redis;
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 5000;
        options.ConnectRetry = 1;
        try
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
            await connection.GetDatabase().PingAsync();
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            string message = e.Message;
            int end = message.IndexOfAny(['\r', '\n']);
            throw new ServerConfigurationException(
                $"{RedisCacheOptions.Section}:Redis: cannot reach Redis at {RedisCacheOptions.Redact(configuration)}: {(end < 0 ? message : message[..end])}");
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
