using System.Collections.Concurrent;
using System.Globalization;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Tests;
using MarketIntel.Training.Devices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// An in-process cluster for retraining: one silo per role given (the first <c>start</c> of them started at once, the
/// rest by <see cref="TestCluster.StartAdditionalSiloAsync(bool)"/>), checking jobs every 100 ms. With more than one
/// silo they share one bar archive, as cluster mode's silos share PostgreSQL's; a lone silo keeps the embedded one.
/// Jobs train with one booster thread. A test can hold a job grain's <see cref="IRetrainJobGrain.IsRunning"/> calls
/// (<see cref="HoldIsRunning"/>), as a worker killed under its job holds the coordinator's check until it is declared dead.
/// With <paramref name="device"/>, every silo's jobs train on it, as a worker's on the device its host opened.
/// </summary>
public abstract class RetrainCluster(SiloRole[] roles, int start, ITrainingDevice? device = null) : IAsyncLifetime
{
    private const string RolesKey = "Test:Roles";
    private const string ArchiveKey = "Test:Archive";
    private const string DeviceKey = "Test:TrainingDevice";

    // The archives shared by a cluster's silos, by cluster.
    private static readonly ConcurrentDictionary<string, InMemoryBarArchive> Archives = new(StringComparer.Ordinal);

    // The training devices of clusters given one, by cluster.
    private static readonly ConcurrentDictionary<string, ITrainingDevice> Devices = new(StringComparer.Ordinal);

    private readonly string _archive = Guid.NewGuid().ToString("N");

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>The archive the silos share (null for a lone silo, which keeps its own).</summary>
    public InMemoryBarArchive? SharedArchive => Archives.GetValueOrDefault(_archive);

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder((short)start);
        builder.Properties[RolesKey] = string.Join(',', roles.Select(r => r.Name()));
        builder.Properties[$"{RetrainingOptions.Section}:CheckInterval"] = "00:00:00.1";
        builder.Properties[$"{RetrainingOptions.Section}:Threads"] = "1";
        if (roles.Length > 1)
        {
            Archives[_archive] = new InMemoryBarArchive(20_000);
            builder.Properties[ArchiveKey] = _archive;
        }
        if (device is not null)
        {
            Devices[_archive] = device;
            builder.Properties[DeviceKey] = _archive;
        }
        builder.AddSiloBuilderConfigurator<Configurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        Archives.TryRemove(_archive, out _);
        Devices.TryRemove(_archive, out _);
    }

    // Held IsRunning calls by job id: the first held call completes Arrived; every held call waits for Release.
    private static readonly ConcurrentDictionary<string, (TaskCompletionSource Arrived, TaskCompletionSource Release)> Held = new(StringComparer.Ordinal);

    /// <summary>
    /// Holds every <see cref="IRetrainJobGrain.IsRunning"/> call to job <paramref name="jobId"/>'s grain until the
    /// returned release is completed; the returned arrival completes when the first call is held.
    /// </summary>
    public static (Task Arrived, TaskCompletionSource Release) HoldIsRunning(string jobId)
    {
        var hold = (new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Held[jobId] = hold;
        return (hold.Item1.Task, hold.Item2);
    }

    /// <summary>A service of the silo at <paramref name="address"/>.</summary>
    public T Service<T>(string address)
        where T : notnull =>
        Cluster.Silos.Cast<InProcessSiloHandle>().Single(s => s.SiloAddress.ToString() == address).SiloHost.Services.GetRequiredService<T>();

    /// <summary>The silos started with <paramref name="role"/>, by address.</summary>
    public IReadOnlyList<string> SilosOf(SiloRole role) =>
        [.. Cluster.Silos.Where(s => roles[Index(s.Name)] == role).Select(s => s.SiloAddress.ToString())];

    // TestCluster names silos Primary, Secondary_1, Secondary_2... in the order they start.
    private static int Index(string name) => name == "Primary" ? 0 : int.Parse(name["Secondary_".Length..], CultureInfo.InvariantCulture);

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            IConfiguration configuration = siloBuilder.Configuration;
            SiloRole role = Enum.Parse<SiloRole>(configuration[RolesKey]!.Split(',')[Index(configuration["Orleans:Name"]!)], ignoreCase: true);
            if (configuration[ArchiveKey] is { } archive)
            {
                siloBuilder.Services.AddSingleton<IBarArchive>(Archives[archive]);
            }
            if (configuration[DeviceKey] is { } device)
            {
                siloBuilder.Services.AddSingleton(Devices[device]);
            }
            siloBuilder.Services.AddMarketIntelRetrainingOptions(o => o.Bind(configuration.GetSection(RetrainingOptions.Section)));
            siloBuilder.AddMarketIntelGrid(o => o.Features = ClusterFixture.Spec, role: role);
            siloBuilder.AddIncomingGrainCallFilter<HoldFilter>();
        }
    }

    private sealed class HoldFilter : IIncomingGrainCallFilter
    {
        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.InterfaceMethod.Name == nameof(IRetrainJobGrain.IsRunning) && context.InterfaceMethod.DeclaringType == typeof(IRetrainJobGrain)
                && Held.TryGetValue(context.TargetId.Key.ToString()!, out var hold))
            {
                hold.Arrived.TrySetResult();
                await hold.Release.Task;
            }
            await context.Invoke();
        }
    }
}
