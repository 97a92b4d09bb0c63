using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// Moving an alias takes effect on every silo at once: the registry pushes the new deployment to each silo's model
/// cache and waits for them before it answers, so the next prediction on any silo uses the new version, and
/// predictions under load while the alias moves back and forth never fail.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ModelPushTests(ClusterFixture fixture)
{
    private static readonly byte[] Logistic = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));

    private IModelRegistryGrain Registry => fixture.Grains.GetGrain<IModelRegistryGrain>(0);

    private T[] OnEverySilo<T>() where T : notnull =>
        [.. fixture.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services.GetRequiredService<T>())];

    private async Task<(string Name, IAssetGrain[] Assets)> Deployed(string prefix, int assets)
    {
        string name = prefix + Guid.NewGuid().ToString("N");
        await Registry.Register(name, "v1", Logistic);
        await Registry.Register(name, "v2", Logistic);
        await Registry.SetAlias(name, "champion", "v1", "test");
        var grains = Enumerable.Range(0, assets).Select(i => fixture.Grains.GetGrain<IAssetGrain>($"{name}-asset-{i}")).ToArray();
        foreach (var asset in grains)
        {
            await asset.PushFeatures(Enumerable.Repeat(0.25f, 8).ToArray());
            await asset.AssignModel(ModelRef.ForAlias(name, "champion"));
        }
        return (name, grains);
    }

    [Fact]
    public async Task Once_an_alias_move_is_answered_every_silo_serves_the_new_version_without_waiting_for_its_poll()
    {
        Assert.Equal(2, fixture.Cluster.Silos.Count);
        var (name, assets) = await Deployed("push-", 16);
        SiloModelCache[] caches = OnEverySilo<SiloModelCache>();
        foreach (var asset in assets)
        {
            Assert.Equal("v1", (await asset.Predict()).Model.Version);
        }
        // Each silo now holds the deployment naming v1, which its poll would keep for up to a second.
        foreach (SiloModelCache cache in caches)
        {
            Assert.Equal("v1", (await cache.Deployment(name)).Aliases["champion"].Version);
        }

        ModelDeployment moved = await Registry.SetAlias(name, "champion", "v2", "test");

        foreach (SiloModelCache cache in caches)
        {
            Task<ModelDeployment> held = cache.Deployment(name);
            Assert.True(held.IsCompletedSuccessfully, "the silo read the registry again instead of holding the pushed deployment");
            Assert.Equal(moved.Epoch, (await held).Epoch);
        }
        foreach (var asset in assets)
        {
            Assert.Equal("v2", (await asset.Predict()).Model.Version);
        }
    }

    [Fact]
    public async Task Predictions_under_load_never_fail_while_the_alias_moves_back_and_forth()
    {
        var (name, assets) = await Deployed("load-", 12);
        using var stop = new CancellationTokenSource();
        long served = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        Task[] load = [.. Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
        {
            for (int i = worker; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    PredictionResult result = await assets[i % assets.Length].Predict();
                    Assert.Contains(result.Model.Version, new[] { "v1", "v2" });
                    Interlocked.Increment(ref served);
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            }
        }))];
        try
        {
            // The moves start once the load runs: on a loaded 2-core machine the workers' tasks may not have begun
            // before 20 moves are over, and the test would then claim nothing about predictions under load.
            using (var started = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                while (Interlocked.Read(ref served) < 6 && failures.IsEmpty)
                {
                    await Task.Delay(10, started.Token);
                }
            }
            for (int move = 0; move < 20; move++)
            {
                string version = move % 2 == 0 ? "v2" : "v1";
                await Registry.SetAlias(name, "champion", version, "test");
                foreach (var asset in assets)
                {
                    Assert.Equal(version, (await asset.Predict()).Model.Version);
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(load);
        }
        Assert.Empty(failures);
        Assert.True(Interlocked.Read(ref served) > 0);
    }

    [Fact]
    public async Task Every_silo_hears_each_change_with_its_audit_record()
    {
        var heard = OnEverySilo<SiloModelEvents>().Select(_ => new System.Collections.Concurrent.ConcurrentQueue<ModelEvent>()).ToArray();
        var listening = OnEverySilo<SiloModelEvents>().Select((events, i) => events.Listen(heard[i].Enqueue)).ToArray();
        try
        {
            string name = "events-" + Guid.NewGuid().ToString("N");
            await Registry.Register(new ModelRegistration(name, "v1", Logistic, null, null, "champion", "ana"));
            await Registry.SetShadow(new ModelRef(name, "v1"), true, "bob");
            foreach (var queue in heard)
            {
                ModelEvent[] mine = [.. queue.Where(e => e.Change.Name == name)];
                Assert.Equal([ModelAudit.Register, ModelAudit.AliasSet, ModelAudit.ShadowAdded], mine.Select(e => e.Change.Action));
                Assert.Null(mine[0].Deployment);
                Assert.Equal(["v1"], mine[2].Deployment!.Shadows);
                Assert.Equal("bob", mine[2].Change.Client);
            }
        }
        finally
        {
            foreach (var l in listening)
            {
                l.Dispose();
            }
        }
    }
}
