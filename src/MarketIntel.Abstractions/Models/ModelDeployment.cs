using System.Text;

namespace MarketIntel.Abstractions.Models;

/// <summary>
/// How one model name is deployed: its aliases (each naming a version, or two versions splitting the assets between
/// them), and its shadow versions, which predict beside the served version on every bar and are scored, but are
/// never what a client gets. <see cref="Epoch"/> grows with every change, so a silo can tell a newer deployment
/// from the one it holds.
/// </summary>
/// <param name="Name">The model name.</param>
/// <param name="Aliases">Alias name to target.</param>
/// <param name="Shadows">The shadow versions, in the order they were added.</param>
/// <param name="Epoch">Grows with every change of this deployment.</param>
[GenerateSerializer, Immutable]
public sealed record ModelDeployment(
    [property: Id(0)] string Name,
    [property: Id(1)] IReadOnlyDictionary<string, AliasTarget> Aliases,
    [property: Id(2)] IReadOnlyList<string> Shadows,
    [property: Id(3)] long Epoch)
{
    /// <summary>A model name with no alias and no shadow.</summary>
    public static ModelDeployment Empty(string name) => new(name, new Dictionary<string, AliasTarget>(StringComparer.Ordinal), [], 0);

    /// <summary>
    /// The version that serves <paramref name="asset"/> for <paramref name="target"/>: the target itself when it names
    /// a version, else its alias's version or, under a split, the arm the asset's sticky bucket falls in. Null when
    /// the alias is not set.
    /// </summary>
    public ServedVersion? Resolve(ModelRef target, string asset)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.IsAlias)
        {
            return new ServedVersion(target, ModelRole.Served);
        }
        if (!Aliases.TryGetValue(target.Alias!, out AliasTarget? alias))
        {
            return null;
        }
        if (alias.Split is not { } split)
        {
            return new ServedVersion(new ModelRef(Name, alias.Version), ModelRole.Served);
        }
        string version = StickyBucket.Of(Name, asset) < split.Weight ? split.Version : alias.Version;
        return new ServedVersion(new ModelRef(Name, version), ModelRole.Arm);
    }

    /// <summary>
    /// The part <paramref name="version"/> plays now: <see cref="ModelRole.Arm"/> on either side of a split,
    /// <see cref="ModelRole.Served"/> where an alias names it, <see cref="ModelRole.Shadow"/> where it is only a shadow;
    /// null where no alias names it and it is no shadow (a version assigned directly, or retired).
    /// </summary>
    public ModelRole? RoleOf(string version)
    {
        ModelRole? role = null;
        foreach (AliasTarget target in Aliases.Values)
        {
            if (target.Split is { } split && (split.Version == version || target.Version == version))
            {
                return ModelRole.Arm;
            }
            if (target.Version == version)
            {
                role = ModelRole.Served;
            }
        }
        return role ?? (Shadows.Contains(version) ? ModelRole.Shadow : null);
    }
}

/// <summary>What an alias points at: a version, or a version and a second one serving a share of the assets.</summary>
/// <param name="Version">The version the alias names (under a split, the arm serving the other assets).</param>
/// <param name="Split">A second version and the share of assets it serves, or null.</param>
/// <param name="AutoPromote">Whether a challenger that passes the promotion gate is moved here without a person
/// asking (the retraining workers use this).</param>
[GenerateSerializer, Immutable]
public sealed record AliasTarget(
    [property: Id(0)] string Version,
    [property: Id(1)] ArmSplit? Split,
    [property: Id(2)] bool AutoPromote);

/// <summary>The second arm of an A/B split: a version and the share of assets (0 to 1) it serves.</summary>
[GenerateSerializer, Immutable]
public sealed record ArmSplit([property: Id(0)] string Version, [property: Id(1)] double Weight);

/// <summary>What part a version plays for an asset.</summary>
public enum ModelRole
{
    /// <summary>It answers the asset's predictions (an alias or assignment naming it).</summary>
    Served,

    /// <summary>It predicts beside the served version and is scored; clients never get its predictions.</summary>
    Shadow,

    /// <summary>It answers the asset's predictions as one arm of an A/B split.</summary>
    Arm,
}

/// <summary>The version that serves an asset, and in what role.</summary>
public readonly record struct ServedVersion(ModelRef Model, ModelRole Role);

/// <summary>
/// An asset's place in [0, 1) for a model name: the same on every silo and in every process (FNV-1a over both
/// strings' UTF-8 bytes, not string.GetHashCode, which differs per process), so an A/B split is sticky, and raising
/// a split's weight only moves assets into the second arm, never out of it.
/// </summary>
public static class StickyBucket
{
    /// <summary>The bucket of <paramref name="asset"/> under <paramref name="modelName"/>.</summary>
    public static double Of(string modelName, string asset)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        ArgumentNullException.ThrowIfNull(asset);
        ulong hash = 14695981039346656037UL;
        hash = Mix(hash, modelName);
        hash = (hash ^ 0x1F) * 1099511628211UL;  // a separator no symbol contains, so ("ab","c") and ("a","bc") differ
        hash = Mix(hash, asset);
        // FNV's low bits mix poorly; a final avalanche (the murmur3 finaliser) spreads them before taking 53 bits.
        hash ^= hash >> 33;
        hash *= 0xFF51AFD7ED558CCDUL;
        hash ^= hash >> 33;
        return (hash >> 11) * (1.0 / (1UL << 53));
    }

    private static ulong Mix(ulong hash, string text)
    {
        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(Math.Min(text.Length, 256))];
        foreach (var chunk in text.Chunk(256))
        {
            int count = Encoding.UTF8.GetBytes(chunk, bytes);
            foreach (byte b in bytes[..count])
            {
                hash = (hash ^ b) * 1099511628211UL;
            }
        }
        return hash;
    }
}
