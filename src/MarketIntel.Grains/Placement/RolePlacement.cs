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
/// slots (<see cref="WorkerDevice"/>), and the workers' own services (<see cref="WorkerServiceAttribute"/>), which take
/// no slot.
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
        ArgumentNullException.ThrowIfNull(grainClass);
        base.PopulateGrainProperties(services, grainClass, grainType, properties);
        // Only jobs are counted against a worker's slots: a service that lives on some worker (one per cluster) would
        // otherwise leave that worker one job short for good.
        if (!grainClass.IsDefined(typeof(WorkerServiceAttribute), inherit: false))
        {
            properties[JobClassProperty] = RuntimeTypeNameFormatter.Format(grainClass);
        }
    }
}

/// <summary>Marks a grain class as serving work: it activates only on silos of role serving or all (<see cref="ServingPlacement"/>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ServingPlacementAttribute() : PlacementAttribute(ServingPlacement.Singleton);

/// <summary>Marks a grain class as a job: it activates only on silos of role worker or all (<see cref="WorkerPlacement"/>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class WorkerPlacementAttribute() : PlacementAttribute(WorkerPlacement.Singleton);

/// <summary>
/// Marks a <see cref="WorkerPlacementAttribute"/> grain class as a worker's service rather than a job (the retraining
/// watch): it lives on a worker like a job, but takes none of the worker's job slots (<see cref="WorkerDevice"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class WorkerServiceAttribute : Attribute;
