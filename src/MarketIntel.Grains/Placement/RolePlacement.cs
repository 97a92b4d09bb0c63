using Orleans.Placement;
using Orleans.Serialization.TypeSystem;

namespace MarketIntel.Grains.Placement;

/// <summary>
/// A placement strategy keyed on the silos' roles: a grain of this strategy activates only on a silo whose role runs
/// <see cref="Work"/> (that role, or <see cref="SiloRole.All"/>); <see cref="RolePlacementDirector"/> picks among them.
/// </summary>
public abstract class RolePlacement : PlacementStrategy
{
    /// <summary>The kind of work the grain is: <see cref="SiloRole.Serving"/> or <see cref="SiloRole.Worker"/>.</summary>
    public abstract SiloRole Work { get; }
}

/// <summary>Activates a grain on serving silos only (role serving or all): asset grains and the prediction path.</summary>
public sealed class ServingPlacement : RolePlacement
{
    /// <summary>The one instance the attribute and the director share.</summary>
    public static ServingPlacement Singleton { get; } = new();

    /// <inheritdoc />
    public override SiloRole Work => SiloRole.Serving;
}

/// <summary>
/// Activates a grain on worker silos only (role worker or all): job grains, each on the worker with the most free job
/// slots (<see cref="WorkerDevice"/>).
/// </summary>
public sealed class WorkerPlacement : RolePlacement
{
    /// <summary>
    /// The grain property naming a job grain's class as Orleans counts its activations per silo, so the director can
    /// count each silo's running jobs.
    /// </summary>
    public const string JobClassProperty = "marketintel.job-class";

    /// <summary>The one instance the attribute and the director share.</summary>
    public static WorkerPlacement Singleton { get; } = new();

    /// <inheritdoc />
    public override SiloRole Work => SiloRole.Worker;

    /// <inheritdoc />
    public override void PopulateGrainProperties(IServiceProvider services, Type grainClass, GrainType grainType, Dictionary<string, string> properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        base.PopulateGrainProperties(services, grainClass, grainType, properties);
        properties[JobClassProperty] = RuntimeTypeNameFormatter.Format(grainClass);
    }
}

/// <summary>Marks a grain class as serving work: it activates only on silos of role serving or all (<see cref="ServingPlacement"/>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ServingPlacementAttribute() : PlacementAttribute(ServingPlacement.Singleton);

/// <summary>Marks a grain class as a job: it activates only on silos of role worker or all (<see cref="WorkerPlacement"/>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class WorkerPlacementAttribute() : PlacementAttribute(WorkerPlacement.Singleton);
