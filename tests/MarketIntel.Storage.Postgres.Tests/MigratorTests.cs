using MarketIntel.Storage.Postgres.Migrations;
using Npgsql;

namespace MarketIntel.Storage.Postgres.Tests;

[Collection(PostgresGroup.Name)]
public sealed class MigratorTests(PostgresFixture postgres)
{
    [Fact]
    public async Task A_new_database_is_at_version_zero_and_refused_until_migrated()
    {
        await using var database = NpgsqlDataSource.Create(postgres.NewDatabase());
        Assert.Equal(0, await Migrator.CurrentVersionAsync(database));
        var e = await Assert.ThrowsAsync<SchemaException>(() => Migrator.EnsureCurrentAsync(database));
        Assert.Contains("marketintel db migrate", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrating_applies_every_version_once_and_a_second_run_applies_nothing()
    {
        await using var database = NpgsqlDataSource.Create(postgres.NewDatabase());
        var first = await Migrator.MigrateAsync(database);
        Assert.Equal(Migrator.All.Select(m => m.Version), first.Select(m => m.Version));
        Assert.Empty(await Migrator.MigrateAsync(database));
        Assert.Equal(Migrator.LatestVersion, await Migrator.CurrentVersionAsync(database));
        await Migrator.EnsureCurrentAsync(database);
        foreach (string table in new[] { "grain_state", "bars", "models", "model_default" })
        {
            await using var command = database.CreateCommand($"SELECT to_regclass('{table}') IS NOT NULL");
            Assert.True((bool)(await command.ExecuteScalarAsync())!, table);
        }
    }

    [Fact]
    public async Task Two_migrators_at_once_apply_each_version_exactly_once()
    {
        await using var database = NpgsqlDataSource.Create(postgres.NewDatabase());
        var runs = await Task.WhenAll(Migrator.MigrateAsync(database), Migrator.MigrateAsync(database));
        Assert.Equal(Migrator.All.Count, runs.Sum(r => r.Count));
        await using var command = database.CreateCommand("SELECT count(*) FROM schema_migrations");
        Assert.Equal((long)Migrator.All.Count, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_database_newer_than_the_build_is_refused_by_name()
    {
        await using var database = NpgsqlDataSource.Create(postgres.NewDatabase());
        await Migrator.MigrateAsync(database);
        await using (var command = database.CreateCommand($"INSERT INTO schema_migrations (version, name) VALUES ({Migrator.LatestVersion + 1}, 'future')"))
        {
            await command.ExecuteNonQueryAsync();
        }
        var e = await Assert.ThrowsAsync<SchemaException>(() => Migrator.EnsureCurrentAsync(database));
        Assert.Contains("newer than this build", e.Message, StringComparison.Ordinal);
    }
}
