using MarketIntel.Abstractions.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// A one-silo cluster whose asset grains write their drift windows to <see cref="Store"/>, which the tests read, with
/// the grid's options as <see cref="Grid"/> sets them. The silo runs in this process: its configurator reaches the store
/// and the options through static fields, one set per derived class.
/// </summary>
public abstract class DriftCluster<TSelf> : IAsyncLifetime
    where TSelf : DriftCluster<TSelf>
{
    internal static readonly InMemoryDriftStore Store = new();

    private static Action<GridOptions> _grid = _ => { };
    private static Action<ISiloBuilder> _silo = _ => { };

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>Sets the grid's options of this fixture's silo (its features are <c>sma_5</c> plus what models need).</summary>
    protected abstract void Grid(GridOptions options);

    /// <summary>What else the fixture's silo registers, before the grid.</summary>
    protected virtual void Silo(ISiloBuilder silo)
    {
    }

    /// <summary>What the fixture registers once the cluster is up.</summary>
    protected virtual Task Seed(IGrainFactory grains) => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _grid = Grid;
        _silo = Silo;
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<Configurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        await Seed(Grains);
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
            siloBuilder.Services.AddSingleton<IDriftStore>(Store);
            _silo(siloBuilder);
            siloBuilder.AddMarketIntelGrid(o =>
            {
                o.Features = "sma_5";
                _grid(o);
            });
        }
    }
}
