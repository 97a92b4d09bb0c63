using MarketIntel.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace MarketIntel.Grains.Placement;

/// <summary>
/// Places a <see cref="RolePlacement"/> grain on a silo whose role runs its work, read from each silo's metadata
/// (<see cref="SiloRoles.MetadataKey"/>). Among those silos it leaves the choice to the silo's default director
/// (Orleans' resource-optimized placement, as for every other grain): it keeps the local silo unless another is
/// clearly less loaded, and spreads the rest by load. Placing locally always would pile every asset of a long
/// IngestBars stream onto the one silo its client connected to. A job (<see cref="WorkerPlacement"/>) is first narrowed
/// to the workers with the most free job slots (<see cref="WorkerDevice"/>). A silo whose role is not known yet (its metadata
/// still on its way) is passed over, so that a grain never lands on a silo of the wrong role; with no silo of the
/// role at all the call fails at once with an <see cref="GridErrorKind.Unavailable"/> error saying so, which
/// callers report as waiting and retry: nothing falls back to a silo of the other role.
/// </summary>
internal sealed class RolePlacementDirector(
    ILocalSiloDetails local, IOptions<SiloMetadata> localMetadata, ISiloMetadataCache metadata, IServiceProvider services)
    : IPlacementDirector
{
    private readonly SiloRole _localRole = RoleIn(localMetadata.Value) ?? SiloRole.All;
    private readonly int _localJobSlots = WorkerDevice.JobSlotsIn(localMetadata.Value) ?? 1;
    // Resolved on first use (placement runs on several threads): the director resolver is built from the container
    // this director comes from.
    private readonly Lazy<(PlacementStrategy Strategy, IPlacementDirector Director)> _default = new(() => Default(services));
    private readonly Lazy<HashSet<string>> _jobClasses = new(() => JobClasses(services));

    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        SiloRole work = ((RolePlacement)strategy).Work;
        SiloAddress[] compatible = context.GetCompatibleSilos(target);
        SiloAddress[] fit = Array.FindAll(compatible, silo => RoleOf(silo)?.Runs(work) == true);
        if (fit.Length == 0)
        {
            throw new GridException(GridErrorKind.Unavailable, NoSilo(work, target.GrainIdentity, compatible));
        }
        if (work == SiloRole.Worker && fit.Length > 1)
        {
            fit = await MostFreeJobSlots(fit);
        }
        var (defaultStrategy, director) = _default.Value;
        return await director.OnAddActivation(defaultStrategy, target, new RoleContext(context, fit));
    }

    /// <summary>
    /// The workers with the most free job slots: each one's advertised slots less the job grains active on it, as
    /// its silo counts them. Jobs are placed seldom, so one question to the workers each time costs little; two jobs
    /// placed at the same moment may both see the same counts and share a worker.
    /// </summary>
    private async Task<SiloAddress[]> MostFreeJobSlots(SiloAddress[] workers)
    {
        HashSet<string> jobClasses = _jobClasses.Value;
        SimpleGrainStatistic[] activations = await services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics(workers);
        var running = activations.Where(a => jobClasses.Contains(a.GrainType))
            .GroupBy(a => a.SiloAddress).ToDictionary(g => g.Key, g => g.Sum(a => a.ActivationCount));
        int Free(SiloAddress silo) => JobSlotsOf(silo) - running.GetValueOrDefault(silo);
        int most = workers.Max(Free);
        return Array.FindAll(workers, silo => Free(silo) == most);
    }

    /// <summary>The job slots a silo advertised; one while its metadata has none.</summary>
    private int JobSlotsOf(SiloAddress silo) =>
        silo.Equals(local.SiloAddress) ? _localJobSlots : WorkerDevice.JobSlotsIn(metadata.GetSiloMetadata(silo)) ?? 1;

    /// <summary>The classes of the job grains (<see cref="WorkerPlacement"/>), as Orleans names them in its activation counts.</summary>
    private static HashSet<string> JobClasses(IServiceProvider services) =>
        [.. services.GetRequiredService<IClusterManifestProvider>().LocalGrainManifest.Grains.Values
            .Select(grain => grain.Properties.GetValueOrDefault(WorkerPlacement.JobClassProperty)).OfType<string>()];

    /// <summary>The role a silo published; null while its metadata has not reached this silo.</summary>
    private SiloRole? RoleOf(SiloAddress silo) =>
        silo.Equals(local.SiloAddress) ? _localRole : RoleIn(metadata.GetSiloMetadata(silo));

    private static SiloRole? RoleIn(SiloMetadata published) =>
        published.Metadata.TryGetValue(SiloRoles.MetadataKey, out string? text) && SiloRoles.TryParse(text, out SiloRole role) ? role : null;

    private string NoSilo(SiloRole work, GrainId grain, SiloAddress[] compatible)
    {
        string roles = compatible.Length == 0 ? "no silo is active"
            : "the active silos are " + string.Join(", ", compatible.Select(s => $"{s} ({RoleOf(s)?.Name() ?? "role not known yet"})"));
        return $"no {work.Name()} silo in the cluster: {grain} runs only on a silo of role {work.Name()} or all, and {roles}; it waits until one joins (start one with --role {work.Name()})";
    }

    private static (PlacementStrategy, IPlacementDirector) Default(IServiceProvider services)
    {
        var strategy = services.GetRequiredService<PlacementStrategy>();
        return (strategy, services.GetRequiredService<PlacementDirectorResolver>().GetPlacementDirector(strategy));
    }

    /// <summary>The placement context with the compatible silos narrowed to those of the role.</summary>
    private sealed class RoleContext(IPlacementContext inner, SiloAddress[] fit) : IPlacementContext
    {
        public SiloAddress LocalSilo => inner.LocalSilo;

        public SiloStatus LocalSiloStatus => inner.LocalSiloStatus;

        public SiloAddress[] GetCompatibleSilos(PlacementTarget target) => fit;

        public IReadOnlyDictionary<ushort, SiloAddress[]> GetCompatibleSilosWithVersions(PlacementTarget target) =>
            inner.GetCompatibleSilosWithVersions(target).ToDictionary(p => p.Key, p => p.Value.Where(fit.Contains).ToArray());
    }
}
