using MarketIntel.Grains;
using MarketIntel.Inference;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>A two-silo in-process Orleans cluster with the grid's grains on embedded defaults.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const string Spec = "sma_5,ema_10,rsi_14,obv";

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(2);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMarketIntelGrid(o =>
            {
                o.Features = Spec;
                o.HistoryLength = 64;
            });
            // A long budget for a model's run while loading, so that a registration stopped at the budget is slow by a
            // wide margin against reads on a loaded 2-core machine (ModelRegistryGrainTests).
            siloBuilder.Services.AddSingleton(ModelLimits.Default with { OnnxRunBudget = ModelRegistryGrainTests.SlowValidation });
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterGroup : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
