using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>A fixture: an in-process cluster of <paramref name="silos"/> silos, each set up by <typeparamref name="TConfigurator"/>.</summary>
public abstract class ConfiguredCluster<TConfigurator>(short silos) : IAsyncLifetime
    where TConfigurator : ISiloConfigurator, new()
{
    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(silos);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}
