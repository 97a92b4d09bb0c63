namespace MarketIntel.Features;

/// <summary>One OHLCV bar. Close-only data uses high = low = open = close and volume = 1.</summary>
public readonly record struct Bar(double Open, double High, double Low, double Close, double Volume)
{
    /// <summary>A bar from a close price alone, as the TTR reference script treats close-only input.</summary>
    public static Bar FromClose(double close) => new(close, close, close, close, 1.0);
}
