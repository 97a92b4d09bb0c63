using MarketIntel.Abstractions.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// A one-silo cluster whose model store holds <see cref="OutcomeScoringTests.Versions"/> with their labels before the
/// registry first activates (as lineage would give them), with the grid's scoring options as <see cref="Scoring"/> sets.
/// The silo runs in this process: its configurator reaches the store and the options through static fields, one set per
/// derived class.
/// </summary>
public abstract class LabelledCluster<TSelf> : IAsyncLifetime
    where TSelf : LabelledCluster<TSelf>
{
    internal static readonly InMemoryModelStore Models = new();

    internal static readonly InMemoryScoreStore Scores = new();

    private static Action<ScoringOptions> _scoring = _ => { };

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>Sets the scoring options of this fixture's silo.</summary>
    protected abstract void Scoring(ScoringOptions options);

    public async Task InitializeAsync()
    {
        await OutcomeScoringTests.Seed(Models);
        _scoring = Scoring;
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
            siloBuilder.Services.AddSingleton<IModelStore>(Models);
            siloBuilder.Services.AddSingleton<IScoreStore>(Scores);
            siloBuilder.AddMarketIntelGrid(o =>
            {
                o.Features = "sma_5";
                _scoring(o.Scoring);
            });
        }
    }
}
