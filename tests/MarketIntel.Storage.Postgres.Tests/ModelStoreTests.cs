using MarketIntel.Abstractions;
using MarketIntel.Storage.Postgres.Storage;

namespace MarketIntel.Storage.Postgres.Tests;

[Collection(PostgresGroup.Name)]
public sealed class ModelStoreTests(PostgresFixture postgres) : IDisposable
{
    private readonly Npgsql.NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    private PostgresModelStore Store => new(_database);

    public void Dispose() => _database.Dispose();

    private static ModelInfo Info(string version) =>
        new(new ModelRef("dir", version), "xgboost", ["rsi_14", "sma_20"], 2, ["p"]);

    [Fact]
    public async Task Versions_and_the_default_read_back_as_stored()
    {
        Assert.True(await Store.Add(Info("v1"), [1, 2, 3]));
        Assert.True(await Store.Add(Info("v2"), [4, 5]));
        await Store.SetDefault(new ModelRef("dir", "v2"));
        var state = await Store.Load();
        Assert.Equal(new byte[] { 1, 2, 3 }, state.Bytes[new ModelRef("dir", "v1")]);
        Assert.Equal(["rsi_14", "sma_20"], state.Info[new ModelRef("dir", "v2")].FeatureNames);
        Assert.Equal(new ModelRef("dir", "v2"), state.Default);
    }

    [Fact]
    public async Task A_version_is_immutable_the_same_bytes_again_are_fine_other_bytes_are_refused()
    {
        Assert.True(await Store.Add(Info("v1"), [9, 9]));
        Assert.True(await Store.Add(Info("v1"), [9, 9]));
        Assert.False(await Store.Add(Info("v1"), [9, 8]));
        Assert.Equal(new byte[] { 9, 9 }, (await Store.Load()).Bytes[new ModelRef("dir", "v1")]);
    }

    [Fact]
    public async Task The_default_must_be_a_stored_version()
    {
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Store.SetDefault(new ModelRef("nope", "v0")));
        Assert.Null((await Store.Load()).Default);
    }
}
