using MarketIntel.Cluster.Tests;
using MarketIntel.Tests;

namespace MarketIntel.Ops.Tests;

/// <summary>
/// A real PostgreSQL (schema migrated) and Redis, and one `marketintel serve --cluster` silo on them serving the demo
/// model, answering /healthz; all stopped on dispose. <c>environment</c> adds settings to the silo's (e.g.
/// <c>Grid__Drift__Window</c>).
/// </summary>
internal sealed class OneSiloCluster : IDisposable
{
    private OneSiloCluster(PostgresServer postgres, RedisServer redis)
    {
        Postgres = postgres;
        Redis = redis;
    }

    public PostgresServer Postgres { get; }

    public RedisServer Redis { get; }

    public SiloProcess Silo { get; private set; } = null!;

    public static async Task<OneSiloCluster> Start(IReadOnlyDictionary<string, string>? environment = null)
    {
        var postgres = PostgresServer.Start();
        RedisServer redis;
        try
        {
            redis = RedisServer.Start();
        }
        catch
        {
            postgres.Dispose();
            throw;
        }
        var cluster = new OneSiloCluster(postgres, redis);
        try
        {
            string database = postgres.CreateDatabase("grid");
            using (var data = Npgsql.NpgsqlDataSource.Create(database))
            {
                await Storage.Postgres.Migrations.Migrator.MigrateAsync(data);
            }
            cluster.Silo = SiloProcess.Start("a", redis.Endpoint, database, environment ?? new Dictionary<string, string>(), "--model", SiloProcess.DemoModel);
            await cluster.Silo.WaitReady(TimeSpan.FromSeconds(90));
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Silo?.Dispose();
        Redis.Dispose();
        Postgres.Dispose();
    }
}
