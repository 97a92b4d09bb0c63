using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// The registry on real PostgreSQL survives a cluster restart: a second cluster started on the same database (after
/// the first is gone) serves the versions with their lineage and tags, the aliases, splits and shadows, and the whole
/// audit log, and an asset assigned to an alias predicts with the version the alias names.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class RegistryRestartTests(PostgresFixture postgres) : IDisposable
{
    private static readonly byte[] Logistic = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));
    private static readonly byte[] Other = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-cls-d4-n80.json"));

    // The silos run in this process: their configurator reaches the database through this field.
    private static NpgsqlDataSource? s_database;

    private readonly NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    public void Dispose() => _database.Dispose();

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<IModelStore>(new PostgresModelStore(s_database!));
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5");
        }
    }

    private static Task<TestCluster> Start() => OneSiloCluster.Start<Configurator>();

    private static Task Stop(TestCluster cluster) => OneSiloCluster.Stop(cluster);

    [Fact]
    public async Task A_second_cluster_on_the_same_database_sees_versions_lineage_tags_aliases_shadows_and_the_audit_log()
    {
        s_database = _database;
        const string lineage = "{\"label\": {\"kind\": \"direction\", \"horizon\": 3}}";
        TestCluster first = await Start();
        try
        {
            var registry = first.Client.GetGrain<IModelRegistryGrain>(0);
            await registry.Register(new ModelRegistration("dir", "v1", Logistic, lineage, new Dictionary<string, string> { ["owner"] = "ana" }, "champion", "ana"));
            await registry.Register(new ModelRegistration("dir", "v2", Other, null, null, null, "bob"));
            await registry.SetLineage(new ModelRef("dir", "v2"), "{\"label\": {\"kind\": \"logReturn\", \"horizon\": 1}}", "bob");
            await registry.SetAlias("dir", "challenger", "v2", "bob");
            await registry.SetSplit("dir", "champion", new ArmSplit("v2", 0.3), "bob");
            await registry.SetAutoPromote("dir", "champion", true, "bob");
            await registry.SetShadow(new ModelRef("dir", "v2"), true, "bob");
            await registry.SetTags(new ModelRef("dir", "v2"), new Dictionary<string, string> { ["stage"] = "shadow" }, [], "bob");
        }
        finally
        {
            await Stop(first);
        }

        TestCluster second = await Start();
        try
        {
            var registry = second.Client.GetGrain<IModelRegistryGrain>(0);
            ModelDetails model = await registry.GetModel("dir");
            Assert.Equal(["v1", "v2"], model.Versions.Select(v => v.Info.Model.Version));
            Assert.Equal(lineage, model.Versions[0].Lineage);
            Assert.Equal("up_3", model.Versions[0].Info.Label);
            Assert.Equal("logret_1", model.Versions[1].Info.Label);
            Assert.Equal("ana", model.Versions[0].Tags["owner"]);
            Assert.Equal("shadow", model.Versions[1].Tags["stage"]);
            Assert.Equal(new AliasTarget("v1", new ArmSplit("v2", 0.3), true), model.Deployment.Aliases["champion"]);
            Assert.Equal("v2", model.Deployment.Aliases["challenger"].Version);
            Assert.Equal(["v2"], model.Deployment.Shadows);
            Assert.Equal(5, model.Deployment.Epoch);
            var audit = await registry.GetAudit("dir", 100);
            Assert.Equal(
                [ModelAudit.Register, ModelAudit.AliasSet, ModelAudit.Register, ModelAudit.Lineage, ModelAudit.AliasSet, ModelAudit.Split,
                 ModelAudit.AutoPromote, ModelAudit.ShadowAdded, ModelAudit.Tags],
                audit.Select(r => r.Action));
            Assert.Equal(["ana", "ana", "bob", "bob", "bob", "bob", "bob", "bob", "bob"], audit.Select(r => r.Client));

            // The asset resolves the alias through the deployment the new cluster read back.
            var asset = second.Client.GetGrain<IAssetGrain>("restart-asset");
            await asset.PushFeatures(Enumerable.Repeat(0.5f, 10).ToArray());
            await asset.AssignModel(ModelRef.ForAlias("dir", "challenger"));
            Assert.Equal(new ModelRef("dir", "v2"), (await asset.Predict()).Model);
        }
        finally
        {
            await Stop(second);
        }
    }

    [Fact]
    public async Task A_profile_given_later_survives_a_restart_and_is_still_set_once()
    {
        s_database = _database;
        string[] names = ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"];
        var random = new Random(3);
        string profile = MarketIntel.Training.Drift.ProfileBuilder.Build(names,
            [.. names.Select(_ => Enumerable.Range(0, 50).Select(_ => (float)random.NextDouble()).ToArray())], null, "restart rows", 5).ToJson();
        var model = new ModelRef("profiled", "v1");
        TestCluster first = await Start();
        try
        {
            var registry = first.Client.GetGrain<IModelRegistryGrain>(0);
            await registry.Register(new ModelRegistration(model.Name, model.Version, Logistic, null, null, null, "ana"));
            Assert.True((await registry.SetProfile(model, profile, "ana")).HasProfile);
        }
        finally
        {
            await Stop(first);
        }

        // Readable by other tools with plain SQL.
        await using (var command = _database.CreateCommand("SELECT profile FROM models WHERE name = 'profiled' AND version = 'v1'"))
        {
            Assert.Equal(profile, await command.ExecuteScalarAsync());
        }
        TestCluster second = await Start();
        try
        {
            var registry = second.Client.GetGrain<IModelRegistryGrain>(0);
            Assert.Equal(profile, await registry.GetProfile(model));
            Assert.True(Assert.Single((await registry.GetModel(model.Name)).Versions).HasProfile);
            Assert.Equal([ModelAudit.Register, ModelAudit.Profile], (await registry.GetAudit(model.Name, 10)).Select(r => r.Action));
            await registry.SetProfile(model, profile, "bob");
            var refused = await Assert.ThrowsAsync<GridException>(() => registry.SetProfile(model, profile.Replace("restart rows", "other rows", StringComparison.Ordinal), "bob"));
            Assert.Equal(GridErrorKind.FailedPrecondition, refused.Kind);
        }
        finally
        {
            await Stop(second);
        }
    }
}
