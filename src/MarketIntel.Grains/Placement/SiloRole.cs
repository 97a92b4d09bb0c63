namespace MarketIntel.Grains.Placement;

/// <summary>
/// What a silo runs. Serving silos hold the asset grains and answer predictions; worker silos run jobs (training,
/// drift scans), so that a heavy job never takes CPU or memory from the serving path; a silo of role
/// <see cref="All"/> runs both, as a lone embedded silo must.
/// </summary>
public enum SiloRole
{
    /// <summary>Both kinds of work: the default, and what every silo was before roles existed.</summary>
    All,

    /// <summary>Asset grains, the prediction path and the singletons it reads (the model registry).</summary>
    Serving,

    /// <summary>Jobs: training, drift scans and other work that may run long.</summary>
    Worker,
}

/// <summary>How a silo's role is written in settings and in the silo metadata other silos read it from.</summary>
public static class SiloRoles
{
    /// <summary>The silo metadata key under which each silo publishes its role (Orleans' <c>UseSiloMetadata</c>).</summary>
    public const string MetadataKey = "marketintel.role";

    /// <summary>The values a setting may take, as an error lists them.</summary>
    public const string Choices = "serving, worker or all";

    /// <summary>The role as settings, the command line and the metadata write it: <c>serving</c>, <c>worker</c>, <c>all</c>.</summary>
    public static string Name(this SiloRole role) => role switch
    {
        SiloRole.Serving => "serving",
        SiloRole.Worker => "worker",
        _ => "all",
    };

    /// <summary>Reads a role written as <see cref="Name"/> writes it (any case); false for anything else, numbers included.</summary>
    public static bool TryParse(string? text, out SiloRole role)
    {
        foreach (SiloRole candidate in (ReadOnlySpan<SiloRole>)[SiloRole.All, SiloRole.Serving, SiloRole.Worker])
        {
            if (string.Equals(text?.Trim(), candidate.Name(), StringComparison.OrdinalIgnoreCase))
            {
                role = candidate;
                return true;
            }
        }
        role = SiloRole.All;
        return false;
    }

    /// <summary>Whether a silo of this role may host work that needs <paramref name="work"/> (serving or worker).</summary>
    public static bool Runs(this SiloRole silo, SiloRole work) => silo == SiloRole.All || silo == work;
}
