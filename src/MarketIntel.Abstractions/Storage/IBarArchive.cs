using MarketIntel.Features;

namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// Where accepted bars are kept for good. An asset grain appends each call's accepted bars before it applies
/// them or answers (so an acknowledged bar is archived), and rebuilds its features from the archive when it is
/// activated (so a grain reactivated on another silo continues exactly where it stopped). Embedded defaults keep
/// no archive (<see cref="IsDurable"/> false).
/// <para>
/// Writers are fenced: an activation claims the asset before it reads the bars (<see cref="Claim"/>), and the archive
/// refuses appends under an older claim from then on. Two activations of one asset can overlap for a moment during
/// membership changes; without the fence the older one could add bars the newer one's replay never saw.
/// </para>
/// </summary>
public interface IBarArchive
{
    /// <summary>
    /// Claims the asset for a new activation: returns its writer epoch, greater than every earlier claim's. Appends
    /// under an earlier epoch fail with <see cref="StaleArchiveWriterException"/> from then on, and the bars such an
    /// append stored before the claim are there for the new activation's read.
    /// </summary>
    Task<long> Claim(string asset);

    /// <summary>
    /// Stores the bars (ascending timestamps) under the writer <paramref name="epoch"/>; returns once they are durable.
    /// Bars already stored are skipped. An epoch older than the asset's latest claim stores nothing and fails with
    /// <see cref="StaleArchiveWriterException"/>; 0 is for a writer that never claimed (allowed until a claim).
    /// </summary>
    Task Append(string asset, long epoch, IReadOnlyList<StoredBar> bars);

    /// <summary>The asset's stored bars after <paramref name="after"/> (Unix ms; every bar by default), oldest first.</summary>
    IAsyncEnumerable<StoredBar> Read(string asset, long after = long.MinValue, CancellationToken cancellationToken = default);

    /// <summary>The asset's latest feature-state checkpoint, or null when none is kept.</summary>
    Task<ArchiveCheckpoint?> ReadCheckpoint(string asset);

    /// <summary>
    /// Keeps <paramref name="state"/> (a series checkpoint covering the asset's bars through <paramref name="through"/>)
    /// as the asset's latest, unless a later one is kept or <paramref name="epoch"/> is older than the asset's claim.
    /// </summary>
    Task SaveCheckpoint(string asset, long epoch, long through, byte[] state);

    /// <summary>Whether activations must replay this archive (false where nothing is kept).</summary>
    bool IsDurable { get; }
}

/// <summary>A series checkpoint (see <c>AssetSeries.Checkpoint</c>) covering an asset's bars through <see cref="Through"/>.</summary>
public sealed record ArchiveCheckpoint(long Through, byte[] State);

/// <summary>An append by an activation that a newer activation of the asset has replaced; nothing was stored.</summary>
public sealed class StaleArchiveWriterException : Exception
{
    public StaleArchiveWriterException()
    {
    }

    public StaleArchiveWriterException(string message)
        : base(message)
    {
    }

    public StaleArchiveWriterException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public StaleArchiveWriterException(string asset, long epoch, long current)
        : base($"{asset}: writer epoch {epoch} was replaced by a newer activation's claim (epoch {current}); nothing was stored")
    {
        Asset = asset;
        Epoch = epoch;
        Current = current;
    }

    /// <summary>The asset.</summary>
    public string Asset { get; } = "";

    /// <summary>The refused writer's epoch.</summary>
    public long Epoch { get; }

    /// <summary>The asset's latest claim.</summary>
    public long Current { get; }
}
