using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Tests;

/// <summary>What every <see cref="IModelStore"/> promises the registry, claimed once and run against each store.</summary>
public abstract class ModelStoreContract
{
    private const long Registered = 1_790_000_000_123;

    /// <summary>The store under test: empty at the start of each test.</summary>
    protected abstract IModelStore Store { get; }

    private static StoredModel Version(string version, byte[] bytes, string? lineage = null, string? label = null) =>
        new(new ModelInfo(new ModelRef("dir", version), "xgboost", ["rsi_14", "sma_20"], 2, ["p"], label), bytes, Registered,
            new Dictionary<string, string> { ["team"] = "quant" }, lineage);

    private static ModelAuditRecord Audit(string action, string? version = "v1", string detail = "{\"n\": 1}") =>
        new(0, "dir", action, version, Registered + 5, "ci-key", detail);

    private static StoredModel Stored(ModelCatalog catalog, string version) =>
        Assert.Single(catalog.Versions, v => v.Info.Model == new ModelRef("dir", version));

    private async Task<IReadOnlyList<ModelAuditRecord>> Log() => await Store.ReadAudit("dir", 100);

    [Fact]
    public async Task Versions_and_the_default_read_back_as_stored()
    {
        Assert.True(await Store.Add(Version("v1", [1, 2, 3]), Audit(ModelAudit.Register)));
        Assert.True(await Store.Add(Version("v2", [4, 5], "{ \"label\":  {\"kind\": \"direction\", \"horizon\": 3} }", "up_3"), Audit(ModelAudit.Register, "v2")));
        await Store.SetDefault(new ModelRef("dir", "v2"));
        var catalog = await Store.Load();
        Assert.Equal(["v1", "v2"], catalog.Versions.Select(v => v.Info.Model.Version));
        Assert.Equal(new byte[] { 1, 2, 3 }, Stored(catalog, "v1").Bytes);
        Assert.Null(Stored(catalog, "v1").Lineage);
        Assert.Null(Stored(catalog, "v1").Info.Label);
        StoredModel v2 = Stored(catalog, "v2");
        Assert.Equal(["rsi_14", "sma_20"], v2.Info.FeatureNames);
        Assert.Equal("up_3", v2.Info.Label);
        Assert.Equal("{ \"label\":  {\"kind\": \"direction\", \"horizon\": 3} }", v2.Lineage);  // byte for byte, white space and all
        Assert.Equal(Registered, v2.CreatedAt);
        Assert.Equal("quant", v2.Tags["team"]);
        Assert.Equal(new ModelRef("dir", "v2"), catalog.Default);
    }

    [Fact]
    public async Task A_version_is_immutable_the_same_bytes_again_are_fine_other_bytes_are_refused_and_only_the_first_is_audited()
    {
        Assert.True(await Store.Add(Version("v1", [9, 9]), Audit(ModelAudit.Register)));
        Assert.True(await Store.Add(Version("v1", [9, 9]), Audit(ModelAudit.Register)));
        Assert.False(await Store.Add(Version("v1", [9, 8]), Audit(ModelAudit.Register)));
        Assert.Equal(new byte[] { 9, 9 }, Stored(await Store.Load(), "v1").Bytes);
        Assert.Single(await Log());
    }

    [Fact]
    public async Task A_lineage_is_set_once_and_names_the_label()
    {
        await Store.Add(Version("v1", [1]), Audit(ModelAudit.Register));
        Assert.True(await Store.SetLineage(new ModelRef("dir", "v1"), "{\"a\":1}", "logret_5", Audit(ModelAudit.Lineage)));
        Assert.True(await Store.SetLineage(new ModelRef("dir", "v1"), "{\"a\":1}", "logret_5", Audit(ModelAudit.Lineage)));
        Assert.False(await Store.SetLineage(new ModelRef("dir", "v1"), "{\"a\":2}", "up_1", Audit(ModelAudit.Lineage)));
        StoredModel v1 = Stored(await Store.Load(), "v1");
        Assert.Equal("{\"a\":1}", v1.Lineage);
        Assert.Equal("logret_5", v1.Info.Label);
        Assert.Equal([ModelAudit.Register, ModelAudit.Lineage], (await Log()).Select(r => r.Action));
    }

    [Fact]
    public async Task A_profile_is_set_once_reads_back_as_stored_and_only_the_first_is_audited()
    {
        await Store.Add(Version("v1", [1]), Audit(ModelAudit.Register));
        Assert.Null(Stored(await Store.Load(), "v1").Profile);
        const string profile = "{\"rows\":3,\"source\":\"s\",\"features\":[],\"prediction\":null}";
        Assert.True(await Store.SetProfile(new ModelRef("dir", "v1"), profile, Audit(ModelAudit.Profile)));
        Assert.True(await Store.SetProfile(new ModelRef("dir", "v1"), profile, Audit(ModelAudit.Profile)));
        Assert.False(await Store.SetProfile(new ModelRef("dir", "v1"), profile.Replace('3', '4'), Audit(ModelAudit.Profile)));
        Assert.Equal(profile, Stored(await Store.Load(), "v1").Profile);
        Assert.Equal([ModelAudit.Register, ModelAudit.Profile], (await Log()).Select(r => r.Action));
    }

    [Fact]
    public async Task Tags_are_replaced_whole()
    {
        await Store.Add(Version("v1", [1]), Audit(ModelAudit.Register));
        await Store.SetTags(new ModelRef("dir", "v1"), new Dictionary<string, string> { ["stage"] = "candidate", ["note"] = "é \"quoted\"" }, Audit(ModelAudit.Tags));
        var tags = Stored(await Store.Load(), "v1").Tags;
        Assert.Equal(2, tags.Count);
        Assert.Equal("é \"quoted\"", tags["note"]);
        Assert.False(tags.ContainsKey("team"));
    }

    [Fact]
    public async Task Deployments_read_back_with_splits_auto_promotion_shadows_in_order_and_epoch()
    {
        foreach (string v in new[] { "v1", "v2", "v3" })
        {
            await Store.Add(Version(v, [1]), Audit(ModelAudit.Register, v));
        }
        var deployment = new ModelDeployment("dir", new Dictionary<string, AliasTarget>
        {
            ["champion"] = new("v1", new ArmSplit("v2", 0.25), true),
            ["challenger"] = new("v2", null, false),
        }, ["v3", "v1"], 7);
        await Store.SaveDeployment(deployment, Audit(ModelAudit.Split));
        await Store.SaveDeployment(deployment with { Aliases = new Dictionary<string, AliasTarget> { ["champion"] = new("v1", new ArmSplit("v2", 0.25), true) }, Epoch = 8 },
            Audit(ModelAudit.AliasRemoved));
        ModelDeployment read = Assert.Single((await Store.Load()).Deployments);
        Assert.Equal(8, read.Epoch);
        Assert.Equal(["v3", "v1"], read.Shadows);
        AliasTarget champion = Assert.Single(read.Aliases).Value;
        Assert.Equal(new AliasTarget("v1", new ArmSplit("v2", 0.25), true), champion);
        Assert.Equal([ModelAudit.Register, ModelAudit.Register, ModelAudit.Register, ModelAudit.Split, ModelAudit.AliasRemoved], (await Log()).Select(r => r.Action));
    }

    [Fact]
    public async Task A_deployment_naming_an_unknown_version_is_refused_and_neither_stored_nor_audited()
    {
        await Store.Add(Version("v1", [1]), Audit(ModelAudit.Register));
        var bad = new ModelDeployment("dir", new Dictionary<string, AliasTarget> { ["champion"] = new("v9", null, false) }, [], 1);
        await Assert.ThrowsAnyAsync<Exception>(() => Store.SaveDeployment(bad, Audit(ModelAudit.AliasSet)));
        Assert.Empty((await Store.Load()).Deployments);
        Assert.Single(await Log());
    }

    [Fact]
    public async Task The_audit_log_numbers_records_in_order_and_answers_the_last_ones_oldest_first()
    {
        for (int i = 0; i < 5; i++)
        {
            await Store.AppendAudit(Audit(ModelAudit.Rejected, "v" + i, $"{{\"pairs\": {i}}}"));
        }
        await Store.AppendAudit(Audit(ModelAudit.Rejected) with { Name = "other" });
        var last = await Store.ReadAudit("dir", 3);
        Assert.Equal(["v2", "v3", "v4"], last.Select(r => r.Version));
        Assert.True(last[0].Sequence < last[1].Sequence && last[1].Sequence < last[2].Sequence);
        Assert.Equal("ci-key", last[2].Client);
        Assert.Equal(Registered + 5, last[2].At);
        Assert.Equal(4, System.Text.Json.JsonDocument.Parse(last[2].Detail).RootElement.GetProperty("pairs").GetInt32());
        Assert.Single(await Store.ReadAudit("other", 10));
    }

    [Fact]
    public async Task The_default_must_be_a_stored_version_or_an_alias()
    {
        var refusal = await Assert.ThrowsAnyAsync<Exception>(() => Store.SetDefault(new ModelRef("nope", "v0")));
        Assert.IsType<InvalidOperationException>(refusal);
        Assert.Null((await Store.Load()).Default);
        await Store.SetDefault(ModelRef.ForAlias("dir", "champion"));
        Assert.Equal(ModelRef.ForAlias("dir", "champion"), (await Store.Load()).Default);
    }
}
