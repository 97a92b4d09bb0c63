using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>The model registry takes models from clients: hostile ones are refused, and slow ones hold up nobody's reads.</summary>
[Collection(ClusterGroup.Name)]
public sealed class ModelRegistryGrainTests(ClusterFixture fixture)
{
    /// <summary>The cluster's budget for a model's run while loading: a model that loops is refused after this long.</summary>
    internal static readonly TimeSpan SlowValidation = TimeSpan.FromSeconds(8);

    private static byte[] Hostile(string name) => File.ReadAllBytes(RepoPaths.Fixture("models", "hostile", name + ".onnx"));

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}";

    [Fact]
    public async Task A_registration_that_validates_slowly_does_not_hold_up_reads_of_the_registry()
    {
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        var known = await registry.Register(Unique("known"), "1", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json")));

        // A Loop that never ends: its validation runs for the whole budget (SlowValidation) before it is refused.
        Task<ModelInfo> slow = registry.Register(Unique("loop"), "1", Hostile("loop-bomb"));
        await Task.Delay(TimeSpan.FromMilliseconds(500));   // long enough for the call to reach the registry
        Assert.False(slow.IsCompleted);

        byte[] bytes = await registry.GetBytes(known.Model);
        ModelInfo described = await registry.Describe(known.Model);
        await registry.GetDefault();
        // Had the reads queued behind the registration, it would have finished before them.
        Assert.False(slow.IsCompleted, "the reads waited for the registration to finish");
        Assert.NotEmpty(bytes);
        Assert.Equal(known.Model, described.Model);

        var refused = await Assert.ThrowsAsync<GridException>(() => slow);
        Assert.Equal(GridErrorKind.InvalidArgument, refused.Kind);
        Assert.EndsWith("took longer than the 8 s budget for a run while loading, so it was stopped", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("external-in-subgraph", "keeps its data in an external file")]
    [InlineData("malformed-graph", "not a model XGBoost JSON or ONNX Runtime can load (")]
    [InlineData("malformed-at-run", "ONNX Runtime could not run it on 1 row(s) of zeros (")]
    public async Task A_hostile_or_broken_onnx_model_is_an_invalid_argument_naming_the_problem(string model, string problem)
    {
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        string name = Unique(model);
        var e = await Assert.ThrowsAsync<GridException>(() => registry.Register(name, "1", Hostile(model)));
        Assert.Equal(GridErrorKind.InvalidArgument, e.Kind);
        Assert.StartsWith($"{name}@1: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("onnxruntime_src", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<GridException>(() => registry.GetBytes(new ModelRef(name, "1")));
    }

    [Fact]
    public async Task On_embedded_defaults_a_registration_is_kept_in_the_silos_in_memory_model_store()
    {
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        ModelInfo info = await registry.Register(Unique("kept"), "1", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json")));
        // The registry is one activation on one of the two silos; its store is that silo's.
        var stores = fixture.Cluster.GetActiveSilos().Cast<InProcessSiloHandle>()
            .Select(silo => silo.SiloHost.Services.GetRequiredService<IModelStore>()).ToList();
        Assert.All(stores, store => Assert.IsType<InMemoryModelStore>(store));
        var catalogs = await Task.WhenAll(stores.Select(store => store.Load()));
        Assert.Single(catalogs, catalog => catalog.Versions.Any(v => v.Info.Model == info.Model));
    }
}
