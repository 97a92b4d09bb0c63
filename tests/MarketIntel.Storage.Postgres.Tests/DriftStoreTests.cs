using MarketIntel.Abstractions.Storage;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>The drift table keeps the drift store's promises: a window per asset, replaced by each write, read back as written.</summary>
[Collection(PostgresGroup.Name)]
public sealed class DriftStoreTests(PostgresFixture postgres) : DriftStoreContract, IDisposable
{
    private readonly Npgsql.NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    protected override IDriftStore Store => new PostgresDriftStore(_database);

    public void Dispose() => _database.Dispose();
}
