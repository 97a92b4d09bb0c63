using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// The registry keeps versions and the default in the silo's <see cref="IModelStore"/> and nowhere else: what the
/// store holds is what it serves, every change reaches the store before it is answered, and a store that fails
/// makes changes UNAVAILABLE without changing what the registry serves.
/// </summary>
public sealed class ModelRegistryStoreTests(ModelRegistryStoreTests.StoreCluster fixture) : IClassFixture<ModelRegistryStoreTests.StoreCluster>
{
    private static readonly byte[] ModelBytes = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));

    private static readonly ModelRef Seeded = new("seeded", "1");

    /// <summary>A one-silo cluster whose model store was filled before the registry first activated.</summary>
    public sealed class StoreCluster : IAsyncLifetime
    {
        // The silo runs in this process: its configurator reaches the store through this field.
        internal static readonly SwitchableStore Store = new();

        public TestCluster Cluster { get; private set; } = null!;

        public IModelRegistryGrain Registry => Cluster.Client.GetGrain<IModelRegistryGrain>(0);

        public async Task InitializeAsync()
        {
            await Store.Add(new StoredModel(new ModelInfo(Seeded, "xgboost", ["rsi_14"], 1, ["p"]), ModelBytes, 0),
                new ModelAuditRecord(0, Seeded.Name, ModelAudit.Register, Seeded.Version, 0, ModelAudit.LocalClient, "{}"));
            await Store.SetDefault(Seeded);
            var builder = new TestClusterBuilder(1);
            builder.AddSiloBuilderConfigurator<Configurator>();
            Cluster = builder.Build();
            await Cluster.DeployAsync();
        }

        public async Task DisposeAsync()
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }

        private sealed class Configurator : ISiloConfigurator
        {
            public void Configure(ISiloBuilder siloBuilder)
            {
                siloBuilder.Services.AddSingleton<IModelStore>(Store);
                siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5");
            }
        }
    }

    /// <summary>The in-memory store, made to fail on demand as a database that went away would.</summary>
    internal sealed class SwitchableStore : IModelStore
    {
        private readonly InMemoryModelStore _inner = new();

        public bool Failing { get; set; }

        public Task<ModelCatalog> Load() => Failing ? throw new IOException("store down") : _inner.Load();

        public Task<bool> Add(StoredModel model, ModelAuditRecord audit) => Failing ? throw Down() : _inner.Add(model, audit);

        public Task<bool> SetLineage(ModelRef model, string lineage, string label, ModelAuditRecord audit) =>
            Failing ? throw Down() : _inner.SetLineage(model, lineage, label, audit);

        public Task<bool> SetProfile(ModelRef model, string profile, ModelAuditRecord audit) =>
            Failing ? throw Down() : _inner.SetProfile(model, profile, audit);

        public Task SetTags(ModelRef model, IReadOnlyDictionary<string, string> tags, ModelAuditRecord audit) =>
            Failing ? throw Down() : _inner.SetTags(model, tags, audit);

        public Task SaveDeployment(ModelDeployment deployment, ModelAuditRecord audit) => Failing ? throw Down() : _inner.SaveDeployment(deployment, audit);

        public Task AppendAudit(ModelAuditRecord audit) => Failing ? throw Down() : _inner.AppendAudit(audit);

        public Task<IReadOnlyList<ModelAuditRecord>> ReadAudit(string name, int limit) => Failing ? throw Down() : _inner.ReadAudit(name, limit);

        public Task SetDefault(ModelRef model) => Failing ? throw Down() : _inner.SetDefault(model);

        private static IOException Down() => new("store down");
    }

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}";

    [Fact]
    public async Task The_registry_serves_what_its_store_held_when_it_activated()
    {
        Assert.Equal(Seeded, await fixture.Registry.GetDefault());
        Assert.Equal(ModelBytes, await fixture.Registry.GetBytes(Seeded));
        Assert.Equal(["rsi_14"], (await fixture.Registry.Describe(Seeded)).FeatureNames);
    }

    [Fact]
    public async Task A_registration_reaches_the_store_and_the_same_bytes_again_change_nothing_while_other_bytes_are_refused()
    {
        string name = Unique("direction");
        ModelInfo info = await fixture.Registry.Register(name, "1", ModelBytes);
        StoredModel stored = Assert.Single((await StoreCluster.Store.Load()).Versions, v => v.Info.Model == info.Model);
        Assert.Equal(ModelBytes, stored.Bytes);

        Assert.Equal(info.Model, (await fixture.Registry.Register(name, "1", ModelBytes)).Model);
        Assert.Single((await StoreCluster.Store.Load()).Versions, v => v.Info.Model == info.Model);
        var refused = await Assert.ThrowsAsync<GridException>(() => fixture.Registry.Register(name, "1", [.. ModelBytes, (byte)' ']));
        Assert.Equal(GridErrorKind.FailedPrecondition, refused.Kind);
        Assert.Equal(ModelBytes, await fixture.Registry.GetBytes(info.Model));
    }

    [Fact]
    public async Task A_failing_store_makes_changes_unavailable_and_the_registry_serves_what_it_served()
    {
        string name = Unique("outage");
        StoreCluster.Store.Failing = true;
        try
        {
            var register = await Assert.ThrowsAsync<GridException>(() => fixture.Registry.Register(name, "1", ModelBytes));
            Assert.Equal(GridErrorKind.Unavailable, register.Kind);
            var setDefault = await Assert.ThrowsAsync<GridException>(() => fixture.Registry.SetDefault(Seeded));
            Assert.Equal(GridErrorKind.Unavailable, setDefault.Kind);
        }
        finally
        {
            StoreCluster.Store.Failing = false;
        }
        var missing = await Assert.ThrowsAsync<GridException>(() => fixture.Registry.GetBytes(new ModelRef(name, "1")));
        Assert.Equal(GridErrorKind.NotFound, missing.Kind);
        Assert.Equal(Seeded, await fixture.Registry.GetDefault());
    }

    [Fact]
    public async Task A_failing_store_makes_alias_tag_and_lineage_changes_unavailable_and_none_is_served_or_audited()
    {
        string name = Unique("deploy-outage");
        var v1 = new ModelRef(name, "1");
        await fixture.Registry.Register(name, "1", ModelBytes);
        await fixture.Registry.SetAlias(name, "champion", "1", "test");
        StoreCluster.Store.Failing = true;
        try
        {
            Assert.Equal(GridErrorKind.Unavailable, (await Assert.ThrowsAsync<GridException>(() => fixture.Registry.RemoveAlias(name, "champion", "test"))).Kind);
            Assert.Equal(GridErrorKind.Unavailable, (await Assert.ThrowsAsync<GridException>(() => fixture.Registry.SetShadow(v1, true, "test"))).Kind);
            Assert.Equal(GridErrorKind.Unavailable, (await Assert.ThrowsAsync<GridException>(() =>
                fixture.Registry.SetTags(v1, new Dictionary<string, string> { ["a"] = "b" }, [], "test"))).Kind);
            Assert.Equal(GridErrorKind.Unavailable, (await Assert.ThrowsAsync<GridException>(() =>
                fixture.Registry.SetLineage(v1, "{\"label\": {\"kind\": \"direction\", \"horizon\": 1}}", "test"))).Kind);
        }
        finally
        {
            StoreCluster.Store.Failing = false;
        }
        ModelDeployment served = await fixture.Registry.GetDeployment(name);
        Assert.Equal("1", served.Aliases["champion"].Version);
        Assert.Empty(served.Shadows);
        var details = await fixture.Registry.GetModel(name);
        Assert.Empty(details.Versions[0].Tags);
        Assert.Null(details.Versions[0].Lineage);
        Assert.Equal([ModelAudit.Register, ModelAudit.AliasSet], (await fixture.Registry.GetAudit(name, 10)).Select(r => r.Action));
    }

    [Fact]
    public async Task A_new_activation_of_the_registry_has_the_silo_subscribed_again_so_alias_moves_are_pushed_once_more()
    {
        string name = Unique("reactivated");
        await fixture.Registry.Register(name, "1", ModelBytes);
        await fixture.Registry.Register(name, "2", ModelBytes);
        await fixture.Registry.SetAlias(name, "champion", "1", "test");
        // The new activation starts with no subscriber: pushes resume once the silo renews its subscription.
        await fixture.Registry.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        SiloModelCache cache = ((InProcessSiloHandle)fixture.Cluster.Primary!).SiloHost.Services.GetRequiredService<SiloModelCache>();
        var deadline = DateTime.UtcNow + SiloModelEvents.Renewal * 6;
        string version = "1";
        bool pushed = false;
        while (!pushed && DateTime.UtcNow < deadline)
        {
            await cache.Deployment(name);   // what the silo holds now, kept for up to a second unless a push replaces it
            version = version == "1" ? "2" : "1";
            ModelDeployment moved = await fixture.Registry.SetAlias(name, "champion", version, "test");
            Task<ModelDeployment> held = cache.Deployment(name);
            // Held already (no read of the registry under way) and naming the move: only a push puts that there.
            pushed = held.IsCompletedSuccessfully && (await held).Epoch == moved.Epoch;
            if (!pushed)
            {
                await Task.Delay(500);
            }
        }
        Assert.True(pushed, $"no alias move reached the silo's cache by push within {SiloModelEvents.Renewal * 6} of the registry's reactivation");
    }
}
