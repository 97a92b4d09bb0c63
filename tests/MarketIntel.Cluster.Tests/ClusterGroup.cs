using MarketIntel.Tests;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// The cluster tests run one class at a time: each starts PostgreSQL, Redis and up to three silo processes, and
/// side by side on a 2-core CI machine they would mostly measure each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ClusterGroup
{
    public const string Name = "cluster";
}

/// <summary>A PostgreSQL and a Redis server for one test class; a failure to start the second stops the first.</summary>
internal sealed class Servers : IDisposable
{
    public Servers()
    {
        Postgres = PostgresServer.Start();
        try
        {
            Redis = RedisServer.Start();
        }
        catch
        {
            Postgres.Dispose();
            throw;
        }
    }

    public PostgresServer Postgres { get; }

    public RedisServer Redis { get; }

    /// <summary>A new database with the schema applied (as `marketintel db migrate` would), by connection string.</summary>
    public string MigratedDatabase(string name)
    {
        string connection = Postgres.CreateDatabase(name);
        using var data = Npgsql.NpgsqlDataSource.Create(connection);
        Storage.Postgres.Migrations.Migrator.MigrateAsync(data).GetAwaiter().GetResult();
        return connection;
    }

    public void Dispose()
    {
        Redis.Dispose();
        Postgres.Dispose();
    }
}
