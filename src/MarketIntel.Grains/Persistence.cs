using MarketIntel.Abstractions;
using MarketIntel.Features;

namespace MarketIntel.Grains;

/// <summary>
/// Where accepted bars are kept for good. An asset grain appends each call's accepted bars before it applies
/// them or answers (so an acknowledged bar is archived), and rebuilds its features from the archive when it is
/// activated (so a grain reactivated on another silo continues exactly where it stopped). Embedded defaults
/// use <see cref="NoBarArchive"/>.
/// </summary>
public interface IBarArchive
{
    /// <summary>Stores the bars (ascending timestamps); returns once they are durable. Bars already stored are skipped.</summary>
    Task Append(string asset, IReadOnlyList<StoredBar> bars);

    /// <summary>Every stored bar of the asset, oldest first.</summary>
    IAsyncEnumerable<StoredBar> Read(string asset, CancellationToken cancellationToken = default);

    /// <summary>Whether activations must replay this archive (false for <see cref="NoBarArchive"/>).</summary>
    bool IsDurable { get; }
}

/// <summary>No archive: embedded defaults keep state in memory only, and asset grains are never collected.</summary>
public sealed class NoBarArchive : IBarArchive
{
    public bool IsDurable => false;

    public Task Append(string asset, IReadOnlyList<StoredBar> bars) => Task.CompletedTask;

    public async IAsyncEnumerable<StoredBar> Read(string asset, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask;
        yield break;
    }
}

/// <summary>
/// Where the model registry keeps its versions and default when not in grain state (PostgreSQL tables in cluster
/// mode, readable by other tools). Versions are immutable: adding the same name and version again with the
/// same bytes is a no-op, with other bytes an error.
/// </summary>
public interface IModelStore
{
    /// <summary>Every version and the default.</summary>
    Task<ModelRegistryState> Load();

    /// <summary>Adds a version; returns false when that name and version is stored already with other bytes.</summary>
    Task<bool> Add(ModelInfo info, byte[] bytes);

    /// <summary>Makes a stored version the default.</summary>
    Task SetDefault(ModelRef model);
}

/// <summary>
/// A readable copy of each asset's latest features and prediction for consumers outside the grid (Redis in
/// cluster mode). Publishing never blocks or fails the grain: the cache is best effort and refills itself.
/// </summary>
public interface IAssetCache
{
    void Publish(FeatureSnapshot? features, PredictionResult? prediction);
}

/// <summary>No cache (embedded defaults).</summary>
public sealed class NoAssetCache : IAssetCache
{
    public void Publish(FeatureSnapshot? features, PredictionResult? prediction)
    {
    }
}

/// <summary>
/// What an asset grain persists through grain storage: what cannot be rebuilt from the bar archive. The
/// streaming features and the recent history are replayed from the archive on activation.
/// </summary>
[GenerateSerializer]
public sealed class AssetState
{
    /// <summary>The assigned model, or null for the default.</summary>
    [Id(0)]
    public ModelRef? Assigned { get; set; }

    /// <summary>The latest pushed feature vector.</summary>
    [Id(1)]
    public float[]? Pushed { get; set; }

    /// <summary>When it was pushed, Unix ms.</summary>
    [Id(2)]
    public long PushedAt { get; set; }

    /// <summary>
    /// The features this asset computes, when models assigned to it added some to the grid's spec (null: the
    /// grid's spec), so a replay computes them from the first bar.
    /// </summary>
    [Id(3)]
    public string? Spec { get; set; }
}
