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
/// IngestBars stream onto the one silo its client connected to. A silo whose role is not known yet (its metadata
/// still on its way) is passed over, so that a grain never lands on a silo of the wrong role; with no silo of the
/// role at all the call fails at once with an <see cref="GridErrorKind.Unavailable"/> error saying so, which
/// callers report as waiting and retry: nothing falls back to a silo of the other role.
/// </summary>
internal sealed class RolePlacementDirector(
    ILocalSiloDetails local, IOptions<SiloMetadata> localMetadata, ISiloMetadataCache metadata, IServiceProvider services)
    : IPlacementDirector
{
    private readonly SiloRole _localRole = RoleIn(localMetadata.Value) ?? SiloRole.All;
    // Resolved on first use (placement runs on several threads): the director resolver is built from the container
    // this director comes from.
    private readonly Lazy<(PlacementStrategy Strategy, IPlacementDirector Director)> _default = new(() => Default(services));

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        SiloRole work = ((RolePlacement)strategy).Work;
        SiloAddress[] compatible = context.GetCompatibleSilos(target);
        SiloAddress[] fit = Array.FindAll(compatible, silo => RoleOf(silo)?.Runs(work) == true);
        if (fit.Length == 0)
        {
            throw new GridException(GridErrorKind.Unavailable, NoSilo(work, target.GrainIdentity, compatible));
        }
        var (defaultStrategy, director) = _default.Value;
        return director.OnAddActivation(defaultStrategy, target, new RoleContext(context, fit));
    }

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
