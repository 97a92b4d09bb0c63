using System.Diagnostics.Metrics;
using MarketIntel.Abstractions.Hosting;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains.Assets;
using MarketIntel.Grains.Models;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Grains.Retraining.Triggers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace MarketIntel.Grains;

/// <summary>Adds the grid's grains and their services to a silo.</summary>
public static class GridHosting
{
    /// <summary>
    /// Registers the grid's options (checked at start by <see cref="GridOptionsValidator"/>), the silo's shared
    /// model cache, the embedded defaults of the storage contracts a provider has not registered before (a
    /// bounded archive of recent bars, the model registry, the outcome scores, the drift windows, the retraining jobs
    /// and the reminders in memory, no cache) and, unless the caller configures its own provider named
    /// <see cref="GridStorage.Name"/>, in-memory grain storage. The silo publishes <paramref name="role"/> in its
    /// metadata with the <paramref name="device"/> it runs jobs on (unset: this machine's cores, <see cref="WorkerDevice.ThisMachine"/>),
    /// and places <see cref="ServingPlacementAttribute"/> and <see cref="WorkerPlacementAttribute"/> grains by the roles
    /// of the silos, jobs on the worker with the most free job slots (<see cref="RolePlacementDirector"/>).
    /// </summary>
    public static ISiloBuilder AddMarketIntelGrid(this ISiloBuilder silo, Action<GridOptions> configure, bool inMemoryStorage = true, SiloRole role = SiloRole.All,
        WorkerDevice? device = null) =>
        silo.AddMarketIntelGrid(options => options.Configure(configure), inMemoryStorage, role, device);

    /// <inheritdoc cref="AddMarketIntelGrid(ISiloBuilder, Action{GridOptions}, bool, SiloRole, WorkerDevice)"/>
    /// <remarks><paramref name="configureOptions"/> binds or sets the options; a host that registered them already passes none.</remarks>
    public static ISiloBuilder AddMarketIntelGrid(this ISiloBuilder silo, Action<OptionsBuilder<GridOptions>>? configureOptions = null, bool inMemoryStorage = true,
        SiloRole role = SiloRole.All, WorkerDevice? device = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        device ??= WorkerDevice.ThisMachine();
        // Every silo, whatever its role, can place grains of both kinds: a call may start on any silo.
        silo.UseSiloMetadata(new Dictionary<string, string>(device.Metadata) { [SiloRoles.MetadataKey] = role.Name() });
        silo.Services.AddSingleton(device);
        silo.Services.AddSingleton(s => new SiloInfoMetrics(s.GetRequiredService<IMeterFactory>(), role, device));
        silo.AddPlacementDirector<ServingPlacement, RolePlacementDirector>();
        silo.AddPlacementDirector<WorkerPlacement, RolePlacementDirector>();
        silo.Services.AddMarketIntelGridOptions(configureOptions);
        silo.Services.AddSingleton<SiloModelCache>();
        silo.Services.AddSingleton<SiloModelEvents>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(s => s.GetRequiredService<SiloModelEvents>());
        silo.Services.AddSingleton<GridMetrics>();
        silo.Services.AddSingleton<Drift.DriftMetrics>();
        // On the device the host registered (an IDriftScanEngine), else the CPU.
        silo.Services.AddSingleton<Drift.SiloDriftScans>();
        silo.Services.AddMarketIntelRetrainTriggers();
        silo.Services.AddSingleton<FeatureSpecCache>();
        silo.Services.AddSingleton<LocalPredictor>();
        silo.Services.AddMarketIntelPromotionGate();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, AutoPromotionTicker>();
        silo.Services.AddSingleton<PromotionMetrics>();
        silo.Services.AddMarketIntelRetrainingOptions();
        silo.Services.AddSingleton<RetrainMetrics>();
        // On the device the host registered (an ITrainingDevice) until it fails, else the CPU.
        silo.Services.AddSingleton<SiloTrainingDevice>();
        silo.AddRetrainTriggerStream();
        silo.Services.AddMarketIntelRetrainSchedule();
        if (role.Runs(SiloRole.Serving))
        {
            // The schedules live on serving silos: a worker alone cannot start them, and a serving silo that joins does.
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, RetrainScheduleStarter>();
        }
        // Cluster mode registers its archive, model store and cache first; these are the embedded defaults.
        silo.Services.TryAddSingleton<IBarArchive>(s =>
        {
            RetrainingOptions retraining = s.GetRequiredService<IOptions<RetrainingOptions>>().Value;
            return new InMemoryBarArchive(retraining.EmbeddedArchiveBars, retraining.EmbeddedArchiveTotalBars);
        });
        silo.Services.TryAddSingleton<IModelStore, InMemoryModelStore>();
        silo.Services.TryAddSingleton<IAssetCache, NoAssetCache>();
        silo.Services.TryAddSingleton<IScoreStore, InMemoryScoreStore>();
        silo.Services.TryAddSingleton<IDriftStore, InMemoryDriftStore>();
        silo.Services.TryAddSingleton<IRetrainJobStore, InMemoryRetrainJobStore>();
        silo.Services.TryAddSingleton<IPredictionLog, NoPredictionLog>();
        // Reminders (the retraining schedule) in memory unless a provider registered its table (PostgreSQL in cluster mode).
        if (!silo.Services.Any(s => s.ServiceType == typeof(IReminderTable)))
        {
            silo.UseInMemoryReminderService();
        }
        if (inMemoryStorage)
        {
            silo.AddMemoryGrainStorage(GridStorage.Name);
            // With state in memory only, an idle asset must not be collected: it would lose its features.
            silo.Services.Configure<GrainCollectionOptions>(o =>
                o.ClassSpecificCollectionAge[typeof(AssetGrain).FullName!] = TimeSpan.FromDays(3650));
        }
        return silo;
    }

    /// <summary>
    /// The grid's options, checked at start by <see cref="GridOptionsValidator"/>; <paramref name="configureOptions"/>
    /// binds or sets them.
    /// </summary>
    public static IServiceCollection AddMarketIntelGridOptions(this IServiceCollection services, Action<OptionsBuilder<GridOptions>>? configureOptions = null)
    {
        services.AddCheckedOptions(new GridOptionsValidator(), configureOptions);
        return services;
    }
}
