using System.Globalization;
using MarketIntel.Abstractions;

namespace MarketIntel.Grains.Assets;

/// <summary>The asset grain's recent bars with the served version's prediction after each, for the console's price chart.</summary>
public sealed partial class AssetGrain
{
    public Task<AssetHistory> GetHistory(int count)
    {
        if (count < 1)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"count: {count.ToString(CultureInfo.InvariantCulture)} bars asked for; ask for 1 or more");
        }
        if (!HasBars)
        {
            throw Unknown("has no bars");
        }
        int taken = Math.Min(count, _series.HistoryCount);
        var timestamps = new long[taken];
        var closes = new double[taken];
        var predictions = new float[taken];
        _series.CopyHistory(timestamps, closes, predictions);
        return Task.FromResult(new AssetHistory(_asset, timestamps, closes, predictions));
    }
}
