using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Features;

namespace MarketIntel.Tests;

/// <summary>Bars of a series read from a bar CSV (timestamps as dates) as the grain takes them.</summary>
internal static class SeriesBars
{
    /// <summary>Bars <paramref name="from"/> to <paramref name="from"/> + <paramref name="count"/> of <paramref name="series"/>.</summary>
    public static BarData[] Of(BarSeries series, int from, int count) =>
        Enumerable.Range(from, count).Select(i => new BarData(
            DateTimeOffset.Parse(series.Timestamps[i], CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(),
            series.Open[i], series.High[i], series.Low[i], series.Close[i], series.Volume[i])).ToArray();
}
