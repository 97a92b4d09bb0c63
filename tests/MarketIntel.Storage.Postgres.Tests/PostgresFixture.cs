using MarketIntel.Storage.Postgres.Migrations;
using MarketIntel.Tests;
using Npgsql;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>One PostgreSQL server for the test assembly; each test class gets databases of its own from it.</summary>
public sealed class PostgresFixture : IDisposable
{
    private readonly PostgresServer _server = PostgresServer.Start();
    private int _databases;

    /// <summary>A new, empty database.</summary>
    public string NewDatabase() => _server.CreateDatabase($"t{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..20]);

    /// <summary>A new database with the schema applied.</summary>
    public NpgsqlDataSource NewMigratedDatabase()
    {
        var database = NpgsqlDataSource.Create(NewDatabase());
        Migrator.MigrateAsync(database).GetAwaiter().GetResult();
        return database;
    }

    public void Dispose() => _server.Dispose();
}

[CollectionDefinition(Name)]
public sealed class PostgresGroup : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
