using MarketIntel.Abstractions.Storage;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>The model registry's tables keep the model store's rules.</summary>
[Collection(PostgresGroup.Name)]
public sealed class ModelStoreTests(PostgresFixture postgres) : ModelStoreContract, IDisposable
{
    private readonly Npgsql.NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    protected override IModelStore Store => new PostgresModelStore(_database);

    public void Dispose() => _database.Dispose();
}
