using MarketIntel.Abstractions.Storage;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>The retrain_jobs table keeps the job store's promises: a record per job, replaced by each write, a model's jobs newest first.</summary>
[Collection(PostgresGroup.Name)]
public sealed class RetrainJobStoreTests(PostgresFixture postgres) : RetrainJobStoreContract, IDisposable
{
    private readonly Npgsql.NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    protected override IRetrainJobStore Store => new PostgresRetrainJobStore(_database);

    public void Dispose() => _database.Dispose();
}
