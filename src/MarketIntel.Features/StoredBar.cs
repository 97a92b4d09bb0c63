namespace MarketIntel.Features;

/// <summary>A bar with its timestamp (Unix ms), as an asset's history and the bar archive keep it.</summary>
public readonly record struct StoredBar(long Timestamp, Bar Bar);
