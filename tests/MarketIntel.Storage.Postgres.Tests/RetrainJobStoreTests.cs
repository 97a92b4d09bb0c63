using MarketIntel.Abstractions.Models;
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

    [Fact]
    public async Task A_row_stored_in_the_json_form_before_the_http_one_still_loads_and_is_rewritten_in_the_new_form_when_saved()
    {
        // A row as this store wrote it before the job's JSON forms were merged: the record as System.Text.Json serialized it.
        const string Earlier = """
            {"id":"e1","request":{"name":"dir","trigger":"drift","reason":"MSFT: 3 of 8 series drifting","client":"triggers","assets":null,
            "triggerAssets":["MSFT"],"spec":"rsi_14","label":null,"force":false},"state":"registered","detail":"registered v2",
            "progress":{"barsRead":12000,"rows":11950,"foldsDone":4,"folds":4,"roundsDone":100,"rounds":100,"validation":{"auc":0.55,"logLoss":"NaN"}},
            "baseVersion":"v1","version":"v2","attempt":2,"worker":"S127.0.0.1:11112:1","through":1700000000000,"createdAt":1700000100000,
            "updatedAt":1700000200000,"finishedAt":1700000300000,"isActive":false}
            """;
        await using (var insert = _database.CreateCommand(
            "INSERT INTO retrain_jobs (id, name, state, created_at, updated_at, record) VALUES ('e1', 'dir', 'Registered', 1700000100000, 1700000200000, $1::jsonb)"))
        {
            insert.Parameters.AddWithValue(Earlier);
            await insert.ExecuteNonQueryAsync();
        }

        RetrainJob read = (await Store.Get("e1"))!;
        Assert.Equal(new RetrainRequest("dir", RetrainTrigger.Drift, "MSFT: 3 of 8 series drifting", "triggers") { TriggerAssets = ["MSFT"], Spec = "rsi_14" }, read.Request);
        Assert.Equal((RetrainJobState.Registered, "registered v2", "v1", "v2", 2, "S127.0.0.1:11112:1"), (read.State, read.Detail, read.BaseVersion, read.Version, read.Attempt, read.Worker));
        Assert.Equal((1_700_000_000_000L, 1_700_000_100_000L, 1_700_000_200_000L, (long?)1_700_000_300_000), (read.Through, read.CreatedAt, read.UpdatedAt, read.FinishedAt));
        Assert.Equal((12_000L, 11_950, 100), (read.Progress.BarsRead, read.Progress.Rows, read.Progress.Rounds));
        Assert.Equal(0.55, read.Progress.Validation!["auc"]);
        Assert.True(double.IsNaN(read.Progress.Validation["logLoss"]));
        Assert.Equal(["e1"], (await Store.List("dir", 10)).Select(j => j.Id));

        // Saved again (a coordinator's next change), the row holds the HTTP form and reads back the same.
        await Store.Save(read with { State = RetrainJobState.Promoted, Detail = "v2: promoted" });
        await using (var select = _database.CreateCommand("SELECT record->>'name', record->>'through' FROM retrain_jobs WHERE id = 'e1'"))
        await using (var row = await select.ExecuteReaderAsync())
        {
            Assert.True(await row.ReadAsync());
            Assert.Equal(("dir", "2023-11-14T22:13:20.000Z"), (row.GetString(0), row.GetString(1)));
        }
        RetrainJob again = (await Store.Get("e1"))!;
        Assert.Equal((RetrainJobState.Promoted, read.Request, read.Through), (again.State, again.Request, again.Through));
    }

    public void Dispose() => _database.Dispose();
}
