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

    public void Dispose()
    {
        Redis.Dispose();
        Postgres.Dispose();
    }
}
