using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Tests;

/// <summary>What every <see cref="IModelStore"/> promises the registry, claimed once and run against each store.</summary>
public abstract class ModelStoreContract
{
    /// <summary>The store under test: empty at the start of each test.</summary>
    protected abstract IModelStore Store { get; }

    /// <summary>What the store throws when asked to make an unknown version the default.</summary>
    protected abstract Type UnknownDefaultRefusal { get; }

    private static StoredModel Version(string version, byte[] bytes) =>
        new(new ModelInfo(new ModelRef("dir", version), "xgboost", ["rsi_14", "sma_20"], 2, ["p"]), bytes);

    private static StoredModel Stored(ModelCatalog catalog, string version) =>
        Assert.Single(catalog.Versions, v => v.Info.Model == new ModelRef("dir", version));

    [Fact]
    public async Task Versions_and_the_default_read_back_as_stored()
    {
        Assert.True(await Store.Add(Version("v1", [1, 2, 3])));
        Assert.True(await Store.Add(Version("v2", [4, 5])));
        await Store.SetDefault(new ModelRef("dir", "v2"));
        var catalog = await Store.Load();
        Assert.Equal(2, catalog.Versions.Count);
        Assert.Equal(new byte[] { 1, 2, 3 }, Stored(catalog, "v1").Bytes);
        Assert.Equal(["rsi_14", "sma_20"], Stored(catalog, "v2").Info.FeatureNames);
        Assert.Equal(new ModelRef("dir", "v2"), catalog.Default);
    }

    [Fact]
    public async Task A_version_is_immutable_the_same_bytes_again_are_fine_other_bytes_are_refused()
    {
        Assert.True(await Store.Add(Version("v1", [9, 9])));
        Assert.True(await Store.Add(Version("v1", [9, 9])));
        Assert.False(await Store.Add(Version("v1", [9, 8])));
        Assert.Equal(new byte[] { 9, 9 }, Stored(await Store.Load(), "v1").Bytes);
    }

    [Fact]
    public async Task The_default_must_be_a_stored_version()
    {
        var refusal = await Assert.ThrowsAnyAsync<Exception>(() => Store.SetDefault(new ModelRef("nope", "v0")));
        Assert.IsAssignableFrom(UnknownDefaultRefusal, refusal);
        Assert.Null((await Store.Load()).Default);
    }
}
