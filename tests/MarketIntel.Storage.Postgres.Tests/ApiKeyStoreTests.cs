using MarketIntel.Abstractions;
using MarketIntel.Storage.Postgres.Storage;

namespace MarketIntel.Storage.Postgres.Tests;

[Collection(PostgresGroup.Name)]
public sealed class ApiKeyStoreTests(PostgresFixture postgres) : IDisposable
{
    private readonly Npgsql.NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    private PostgresApiKeyStore Store => new(_database);

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Keys_read_back_as_stored_with_their_hash_and_never_the_key()
    {
        var (key, record) = ApiKeys.Create("ops", ApiRole.Admin, DateTimeOffset.UtcNow);
        await Store.Add(record);
        var stored = Assert.Single(await Store.List());
        Assert.Equal((record.Id, "ops", ApiRole.Admin, record.Sha256), (stored.Id, stored.Name, stored.Role, stored.Sha256));
        Assert.True(ApiKeys.Matches(key, stored));
        Assert.True(stored.IsActive);
        await using var command = _database.CreateCommand("SELECT count(*) FROM api_keys WHERE id || name || role || sha256 LIKE '%' || $1 || '%'");
        command.Parameters.AddWithValue(key[^20..]);
        Assert.Equal(0L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task One_active_key_per_name_and_a_revoked_name_may_be_used_again()
    {
        await Store.Add(ApiKeys.Create("ingest", ApiRole.Writer, DateTimeOffset.UtcNow).Record);
        var e = await Assert.ThrowsAsync<ApiKeyException>(() => Store.Add(ApiKeys.Create("ingest", ApiRole.Reader, DateTimeOffset.UtcNow).Record));
        Assert.Contains("an active key is already named 'ingest'", e.Message, StringComparison.Ordinal);

        var revoked = await Store.Revoke("ingest", DateTimeOffset.UtcNow);
        Assert.NotNull(revoked?.RevokedAt);
        Assert.Null(await Store.Revoke("ingest", DateTimeOffset.UtcNow));
        await Store.Add(ApiKeys.Create("ingest", ApiRole.Writer, DateTimeOffset.UtcNow).Record);
        var keys = await Store.List();
        Assert.Equal(2, keys.Count);
        Assert.Single(keys, k => k.IsActive);
    }

    [Fact]
    public async Task A_key_can_be_revoked_by_its_id()
    {
        var record = ApiKeys.Create("by-id", ApiRole.Reader, DateTimeOffset.UtcNow).Record;
        await Store.Add(record);
        Assert.Equal("by-id", (await Store.Revoke(record.Id, DateTimeOffset.UtcNow))?.Name);
        Assert.False(Assert.Single(await Store.List()).IsActive);
    }
}
