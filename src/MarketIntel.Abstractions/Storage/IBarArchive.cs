using MarketIntel.Features;

namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// Where accepted bars are kept for good. An asset grain appends each call's accepted bars before it applies
/// them or answers (so an acknowledged bar is archived), and rebuilds its features from the archive when it is
/// activated (so a grain reactivated on another silo continues exactly where it stopped). Embedded defaults keep
/// no archive (<see cref="IsDurable"/> false).
/// </summary>
public interface IBarArchive
{
    /// <summary>Stores the bars (ascending timestamps); returns once they are durable. Bars already stored are skipped.</summary>
    Task Append(string asset, IReadOnlyList<StoredBar> bars);

    /// <summary>Every stored bar of the asset, oldest first.</summary>
    IAsyncEnumerable<StoredBar> Read(string asset, CancellationToken cancellationToken = default);

    /// <summary>Whether activations must replay this archive (false where nothing is kept).</summary>
    bool IsDurable { get; }
}
