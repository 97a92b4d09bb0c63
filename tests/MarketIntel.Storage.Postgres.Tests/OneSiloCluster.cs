using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains;
using MarketIntel.Inference;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>The one-silo clusters the cluster-mode tests run in this process, and the labelled versions they serve.</summary>
internal static class OneSiloCluster
{
    /// <summary>
    /// A one-silo cluster set up by <typeparamref name="TConfigurator"/>. <paramref name="serviceId"/> names the service
    /// (grain state is kept per service: a restarted cluster that must see it is the same service); null, the default.
    /// </summary>
    public static async Task<TestCluster> Start<TConfigurator>(string? serviceId = null)
        where TConfigurator : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder(1);
        if (serviceId is not null)
        {
            builder.Options.ServiceId = serviceId;
        }
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>Stops every silo (each deactivates its grains, which write what they hold) and lets the cluster go.</summary>
    public static async Task Stop(TestCluster cluster)
    {
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }

    /// <summary>Adds <paramref name="bytes"/> as <paramref name="model"/> with <paramref name="label"/> (as its lineage would give it) to <paramref name="store"/>.</summary>
    public static async Task AddLabelled(InMemoryModelStore store, ModelRef model, byte[] bytes, Model loaded, string label) =>
        await store.Add(new StoredModel(new ModelInfo(model, loaded.Kind, loaded.FeatureNames?.ToArray(), loaded.FeatureCount, loaded.OutputNames.ToArray(), label), bytes, 0),
            new ModelAuditRecord(0, model.Name, ModelAudit.Register, model.Version, 0, ModelAudit.LocalClient, "{}"));
}
