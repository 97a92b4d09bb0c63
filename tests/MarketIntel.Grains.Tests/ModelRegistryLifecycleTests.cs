using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// What a version carries besides its bytes (SHA-256, created-at, tags, a lineage checked against the model and set
/// once), and the audit record every change of the registry leaves.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ModelRegistryLifecycleTests(ClusterFixture fixture)
{
    private static readonly byte[] Logistic = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));
    private static readonly string Sha = Convert.ToHexStringLower(SHA256.HashData(Logistic));
    private const string Features = "[\"x0\",\"x1\",\"x2\",\"x3\",\"x4\",\"x5\",\"x6\",\"x7\"]";

    private IModelRegistryGrain Registry => fixture.Grains.GetGrain<IModelRegistryGrain>(0);

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}";

    private static string Lineage(string label = "{\"name\": \"up_5\", \"kind\": \"direction\", \"horizon\": 5}", string features = Features, string? sha = null) =>
        $"{{\"tool\": \"marketintel train\", \"modelSha256\": \"{sha ?? Sha}\", \"features\": {features}, \"label\": {label}, \"data\": {{\"rows\": 10}}}}";

    private static ModelRegistration Registration(string name, string version, string? lineage = null, string? alias = null, Dictionary<string, string>? tags = null) =>
        new(name, version, Logistic, lineage, tags, alias, "ci-key");

    [Fact]
    public async Task A_registration_with_lineage_tags_and_alias_keeps_them_all_and_fills_the_label()
    {
        string name = Unique("lineage");
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string lineage = Lineage();
        ModelVersionDetails v1 = await Registry.Register(Registration(name, "v1", lineage, "champion", new() { ["stage"] = "candidate" }));
        Assert.Equal("up_5", v1.Info.Label);
        Assert.Equal(Sha, v1.Sha256);
        Assert.InRange(v1.CreatedAt, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal(lineage, v1.Lineage);
        Assert.Equal("candidate", v1.Tags["stage"]);
        Assert.Equal("up_5", (await Registry.Describe(new ModelRef(name, "v1"))).Label);

        ModelDetails model = await Registry.GetModel(name);
        Assert.Equal("v1", Assert.Single(model.Versions).Info.Model.Version);
        Assert.Equal("v1", model.Deployment.Aliases["champion"].Version);
        Assert.Contains(await Registry.ListModels(), m => m.Name == name);

        var audit = await Registry.GetAudit(name, 10);
        Assert.Equal([ModelAudit.Register, ModelAudit.AliasSet], audit.Select(r => r.Action));
        Assert.All(audit, r => Assert.Equal("ci-key", r.Client));
        Assert.Equal(Sha, JsonDocument.Parse(audit[0].Detail).RootElement.GetProperty("sha256").GetString());
        Assert.Equal("champion", JsonDocument.Parse(audit[1].Detail).RootElement.GetProperty("alias").GetString());

        // Sent again (a client retrying): nothing changes and nothing more is audited.
        await Registry.Register(Registration(name, "v1", lineage, "champion", new() { ["stage"] = "candidate" }));
        Assert.Equal(2, (await Registry.GetAudit(name, 10)).Count);
    }

    [Theory]
    [InlineData("{\"kind\": \"direction\"}", "field 'label.horizon' is required")]
    [InlineData("{\"kind\": \"up\", \"horizon\": 5}", "field 'label.kind' is 'up'; it must be 'direction' or 'logReturn'")]
    [InlineData("{\"name\": \"up_3\", \"kind\": \"direction\", \"horizon\": 5}", "field 'label.name' (up_3) does not agree with label.kind and label.horizon, which make 'up_5'")]
    [InlineData("{\"kind\": \"logReturn\", \"horizon\": 0}", "field 'label.horizon' is required: a whole number of bars, at least 1")]
    [InlineData("\"up_5\"", "field 'label' is required")]
    public async Task A_lineage_whose_label_is_missing_or_inconsistent_is_refused_naming_the_field(string label, string problem)
    {
        string name = Unique("badlabel");
        var e = await Assert.ThrowsAsync<GridException>(() => Registry.Register(Registration(name, "v1", Lineage(label))));
        Assert.Equal(GridErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.StartsWith($"lineage of model {name}@v1: ", e.Message, StringComparison.Ordinal);
        // Nothing was registered or audited.
        await Assert.ThrowsAsync<GridException>(() => Registry.GetModel(name));
        Assert.Empty(await Registry.GetAudit(name, 10));
    }

    [Fact]
    public async Task A_lineage_naming_other_features_or_another_model_file_is_refused()
    {
        string name = Unique("mismatch");
        var features = await Assert.ThrowsAsync<GridException>(() => Registry.Register(Registration(name, "v1", Lineage(features: "[\"rsi_14\"]"))));
        Assert.Contains("field 'features' (rsi_14) differs from the model's own feature names (x0, x1, x2, x3, x4, x5, x6, x7)", features.Message, StringComparison.Ordinal);
        var sha = await Assert.ThrowsAsync<GridException>(() => Registry.Register(Registration(name, "v1", Lineage(sha: new string('0', 64)))));
        Assert.Contains("field 'modelSha256'", sha.Message, StringComparison.Ordinal);
        var json = await Assert.ThrowsAsync<GridException>(() => Registry.Register(Registration(name, "v1", "{\"label\": ")));
        Assert.Contains("is not JSON", json.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lineage_is_set_later_once_and_never_replaced()
    {
        string name = Unique("later");
        var v1 = new ModelRef(name, "v1");
        ModelVersionDetails bare = await Registry.Register(Registration(name, "v1"));
        Assert.Null(bare.Info.Label);
        Assert.Null(bare.Lineage);
        string lineage = Lineage("{\"kind\": \"logReturn\", \"horizon\": 2}");
        Assert.Equal("logret_2", (await Registry.SetLineage(v1, lineage, "ci-key")).Info.Label);
        Assert.Equal("logret_2", (await Registry.SetLineage(v1, lineage, "ci-key")).Info.Label);
        var other = await Assert.ThrowsAsync<GridException>(() => Registry.SetLineage(v1, Lineage(), "ci-key"));
        Assert.Equal(GridErrorKind.FailedPrecondition, other.Kind);
        Assert.Contains("a version's lineage is set once", other.Message, StringComparison.Ordinal);
        Assert.Equal(lineage, (await Registry.GetModel(name)).Versions[0].Lineage);
        Assert.Equal([ModelAudit.Register, ModelAudit.Lineage], (await Registry.GetAudit(name, 10)).Select(r => r.Action));
    }

    [Fact]
    public async Task Tags_are_set_and_removed_and_bad_tags_change_nothing()
    {
        string name = Unique("tags");
        var v1 = new ModelRef(name, "v1");
        await Registry.Register(Registration(name, "v1", tags: new() { ["owner"] = "ana" }));
        ModelVersionDetails tagged = await Registry.SetTags(v1, new Dictionary<string, string> { ["stage"] = "shadow" }, ["owner"], "ci-key");
        Assert.Equal(new Dictionary<string, string> { ["stage"] = "shadow" }, tagged.Tags);
        var missing = await Assert.ThrowsAsync<GridException>(() => Registry.SetTags(v1, new Dictionary<string, string>(), ["nope"], "ci-key"));
        Assert.Equal(GridErrorKind.NotFound, missing.Kind);
        var blank = await Assert.ThrowsAsync<GridException>(() => Registry.SetTags(v1, new Dictionary<string, string> { [" "] = "x" }, [], "ci-key"));
        Assert.Equal(GridErrorKind.InvalidArgument, blank.Kind);
        Assert.Equal(new Dictionary<string, string> { ["stage"] = "shadow" }, (await Registry.GetModel(name)).Versions[0].Tags);
        Assert.Equal([ModelAudit.Register, ModelAudit.Tags], (await Registry.GetAudit(name, 10)).Select(r => r.Action));
    }

    [Fact]
    public async Task Every_deployment_change_and_each_promotion_decision_is_an_audit_record_naming_its_client()
    {
        string name = Unique("audited");
        await Registry.Register(Registration(name, "v1"));
        await Registry.Register(Registration(name, "v2"));
        await Registry.SetAlias(name, "champion", "v1", "ana");
        await Registry.SetAlias(name, "champion", "v2", "ana");
        await Registry.SetSplit(name, "champion", new ArmSplit("v1", 0.2), "bob");
        await Registry.SetAutoPromote(name, "champion", true, "bob");
        await Registry.SetShadow(new ModelRef(name, "v1"), true, "bob");
        await Registry.SetShadow(new ModelRef(name, "v1"), true, "bob");   // no change: not audited
        await Registry.SetShadow(new ModelRef(name, "v1"), false, "bob");
        await Registry.RemoveAlias(name, "champion", "");
        await Registry.RecordDecision(new PromotionDecision
        {
            Name = name, Alias = "champion", Champion = "v2", Challenger = "v1", Promoted = false, Reason = "too few pairs",
            Pairs = 12, Statistics = new Dictionary<string, double> { ["mcnemarP"] = 0.5, ["dmP"] = double.NaN }, DecidedAt = 1_790_000_000_000,
        }, "gate");

        var audit = await Registry.GetAudit(name, 100);
        Assert.Equal(
            [ModelAudit.Register, ModelAudit.Register, ModelAudit.AliasSet, ModelAudit.AliasSet, ModelAudit.Split, ModelAudit.AutoPromote,
             ModelAudit.ShadowAdded, ModelAudit.ShadowRemoved, ModelAudit.AliasRemoved, ModelAudit.Rejected],
            audit.Select(r => r.Action));
        Assert.Equal(["ci-key", "ci-key", "ana", "ana", "bob", "bob", "bob", "bob", ModelAudit.LocalClient, "gate"], audit.Select(r => r.Client));
        Assert.Equal("v1", JsonDocument.Parse(audit[3].Detail).RootElement.GetProperty("from").GetString());
        Assert.Equal(0.2, JsonDocument.Parse(audit[4].Detail).RootElement.GetProperty("weight").GetDouble());
        JsonElement decision = JsonDocument.Parse(audit[9].Detail).RootElement;
        Assert.Equal(0.5, decision.GetProperty("statistics").GetProperty("mcnemarP").GetDouble());
        Assert.Equal(JsonValueKind.Null, decision.GetProperty("statistics").GetProperty("dmP").ValueKind);
        Assert.Equal("too few pairs", decision.GetProperty("reason").GetString());
        Assert.True(audit.Zip(audit.Skip(1)).All(p => p.First.Sequence < p.Second.Sequence));
        Assert.Equal(2, (await Registry.GetAudit(name, 2)).Count);
    }

    [Fact]
    public async Task Each_recorded_promotion_decision_counts_once_by_model_decision_and_trigger_from_series_published_at_0()
    {
        string name = Unique("promotions");
        await Registry.Register(Registration(name, "v1", alias: "champion"));
        await Registry.Register(Registration(name, "v2"));
        Assert.Equal([0L, 0L, 0L, 0L], [Decisions(name, "promoted", "manual"), Decisions(name, "refused", "manual"), Decisions(name, "promoted", "auto"), Decisions(name, "refused", "auto")]);

        PromotionDecision Decision(string champion, string challenger, bool promoted) => new()
        {
            Name = name, Alias = "champion", Champion = champion, Challenger = challenger, Promoted = promoted, Reason = "gate",
            Pairs = 500, Statistics = new Dictionary<string, double>(), DecidedAt = 1_790_000_000_000,
        };
        await Registry.RecordDecision(Decision("v1", "v2", promoted: false), "ana");
        Assert.True((await Registry.RecordDecision(Decision("v1", "v2", promoted: true), Grains.Models.AutoPromotionGrain.Client)).Promoted);
        // The alias names v2 now: a pass judged against v1 is refused by the registry, and counts as refused.
        Assert.False((await Registry.RecordDecision(Decision("v1", "v2", promoted: true), "ana")).Promoted);

        Assert.Equal([0L, 2L, 1L, 0L], [Decisions(name, "promoted", "manual"), Decisions(name, "refused", "manual"), Decisions(name, "promoted", "auto"), Decisions(name, "refused", "auto")]);
    }

    // A model name's decisions of one kind, summed over the silos (the registry may have lived on either); null when no
    // silo publishes the series.
    private long? Decisions(string name, string decision, string trigger)
    {
        long? total = null;
        foreach (IMeterFactory meters in fixture.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services.GetRequiredService<IMeterFactory>()))
        {
            using var listener = new MeterListener();
            listener.InstrumentPublished = (published, l) =>
            {
                if (published.Name == "marketintel_promotion_decisions_total" && ReferenceEquals(published.Meter.Scope, meters))
                {
                    l.EnableMeasurementEvents(published);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                Dictionary<string, object?> labels = new(tags.ToArray());
                if (Equals(labels["model"], name) && Equals(labels["decision"], decision) && Equals(labels["trigger"], trigger))
                {
                    total = (total ?? 0) + value;
                }
            });
            listener.Start();
            listener.RecordObservableInstruments();
        }
        return total;
    }
}
