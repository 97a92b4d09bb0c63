using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>Assets assigned to a model's alias are served by whatever version the alias names when they predict.</summary>
[Collection(ClusterGroup.Name)]
public sealed class ModelAliasTests(ClusterFixture fixture)
{
    private static readonly byte[] Logistic = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));

    private IModelRegistryGrain Registry => fixture.Grains.GetGrain<IModelRegistryGrain>(0);

    [Fact]
    public async Task An_asset_assigned_to_an_alias_follows_the_alias_when_it_moves()
    {
        string name = "alias-" + Guid.NewGuid().ToString("N");
        await Registry.Register(name, "v1", Logistic);
        await Registry.Register(name, "v2", Logistic);
        await Registry.SetAlias(name, "champion", "v1", "test");
        var asset = fixture.Grains.GetGrain<IAssetGrain>("alias-asset-" + Guid.NewGuid().ToString("N"));
        await asset.PushFeatures(Enumerable.Repeat(0.25f, 8).ToArray());
        await asset.AssignModel(ModelRef.ForAlias(name, "champion"));
        Assert.Equal(new ModelRef(name, "v1"), (await asset.Predict()).Model);

        ModelDeployment moved = await Registry.SetAlias(name, "champion", "v2", "test");
        Assert.Equal("v2", moved.Aliases["champion"].Version);
        // Each silo reads a deployment again at most SiloModelCache.DefaultRefresh after it last did.
        var deadline = DateTime.UtcNow + SiloModelCache.DefaultRefresh * 10;
        ModelRef served;
        while ((served = (await asset.Predict()).Model) != new ModelRef(name, "v2") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(new ModelRef(name, "v2"), served);
    }

    [Fact]
    public async Task Assigning_an_alias_that_is_not_set_is_refused_by_name()
    {
        string name = "unset-" + Guid.NewGuid().ToString("N");
        await Registry.Register(name, "v1", Logistic);
        var asset = fixture.Grains.GetGrain<IAssetGrain>("unset-asset-" + Guid.NewGuid().ToString("N"));
        var e = await Assert.ThrowsAsync<GridException>(() => asset.AssignModel(ModelRef.ForAlias(name, "champion")));
        Assert.Equal(GridErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains($"alias 'champion' of model '{name}' is not set", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_version_may_not_start_with_the_alias_mark_and_an_alias_must_name_a_registered_version()
    {
        string name = "marks-" + Guid.NewGuid().ToString("N");
        var mark = await Assert.ThrowsAsync<GridException>(() => Registry.Register(name, "@champion", Logistic));
        Assert.Equal(GridErrorKind.InvalidArgument, mark.Kind);
        var missing = await Assert.ThrowsAsync<GridException>(() => Registry.SetAlias(name, "champion", "v9", "test"));
        Assert.Equal(GridErrorKind.NotFound, missing.Kind);
        Assert.Equal($"model {name}@v9 is not registered", missing.Message);
    }

    [Fact]
    public void A_split_is_sticky_per_asset_near_its_weight_and_raising_the_weight_only_moves_assets_into_the_second_arm()
    {
        var aliases = new Dictionary<string, AliasTarget> { ["champion"] = new("v1", new ArmSplit("v2", 0.3), false) };
        var deployment = new ModelDeployment("m", aliases, [], 1);
        var raised = deployment with { Aliases = new Dictionary<string, AliasTarget> { ["champion"] = new("v1", new ArmSplit("v2", 0.5), false) } };
        var target = ModelRef.ForAlias("m", "champion");
        string[] assets = Enumerable.Range(0, 20_000).Select(i => $"SYM{i}").ToArray();

        var arms = assets.Select(a => deployment.Resolve(target, a)!.Value).ToArray();
        Assert.All(arms, arm => Assert.Equal(ModelRole.Arm, arm.Role));
        double share = arms.Count(a => a.Model.Version == "v2") / (double)assets.Length;
        // 20,000 assets at p = 0.3: the share's standard error is 0.0032; 0.02 is over six of them.
        Assert.InRange(share, 0.28, 0.32);
        Assert.Equal(arms, assets.Select(a => deployment.Resolve(target, a)!.Value));
        for (int i = 0; i < assets.Length; i++)
        {
            if (arms[i].Model.Version == "v2")
            {
                Assert.Equal("v2", raised.Resolve(target, assets[i])!.Value.Model.Version);
            }
        }
        Assert.Equal(StickyBucket.Of("m", "SYM7"), StickyBucket.Of("m", "SYM7"));
        Assert.NotEqual(StickyBucket.Of("ab", "c"), StickyBucket.Of("a", "bc"));
    }
}
