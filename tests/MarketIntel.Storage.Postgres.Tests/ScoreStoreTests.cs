using MarketIntel.Abstractions.Storage;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>The score tables keep the score store's promises: absolute writes, totals summed over assets.</summary>
[Collection(PostgresGroup.Name)]
public sealed class ScoreStoreTests(PostgresFixture postgres) : ScoreStoreContract, IDisposable
{
    private readonly Npgsql.NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    protected override IScoreStore Store => new PostgresScoreStore(_database);

    public void Dispose() => _database.Dispose();
}
