using MarketIntel.Abstractions;
using MarketIntel.Grains.Assets;

namespace MarketIntel.Grains;

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

    /// <summary>
    /// The predictions still waiting for their outcome when the asset last deactivated (cluster mode), which its next
    /// activation scores if its series goes on from the same bar; null once taken.
    /// </summary>
    [Id(4)]
    public PendingOutcomes? Pending { get; set; }
}
