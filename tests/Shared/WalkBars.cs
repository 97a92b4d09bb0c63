using System.Globalization;
using MarketIntel.Features;
using MarketIntel.Training.Retraining;

namespace MarketIntel.Tests;

/// <summary>What the retraining pipeline's tests feed it: random-walk bars, and a progress that records each step.</summary>
internal static class WalkBars
{
    /// <summary>
    /// <paramref name="count"/> daily closes of <paramref name="asset"/> from 2020-01-01 plus <paramref name="startDay"/>
    /// days, a random walk whose next move leans on the last, times in Unix milliseconds as the archive keeps them.
    /// </summary>
    public static AssetBars Walk(string asset, int count, int seed, int startDay)
    {
        var random = new Random(seed);
        var start = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddDays(startDay);
        var stamps = new string[count];
        var close = new double[count];
        double price = 100, last = 0;
        for (int t = 0; t < count; t++)
        {
            DateTime day = start.AddDays(t);
            stamps[t] = new DateTimeOffset(day).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
            last = 0.3 * last + 0.01 * (random.NextDouble() - 0.5);
            price *= Math.Exp(last);
            close[t] = price;
        }
        return new AssetBars(asset, BarSeries.FromCloses(stamps, close));
    }
}

/// <summary>A pipeline's progress, every step kept; <see cref="Then"/> runs after each (a test cancels there).</summary>
internal sealed class RecordedSteps : IProgress<RetrainStep>
{
    public List<RetrainStep> Seen { get; } = [];

    public Action<RetrainStep>? Then { get; init; }

    public void Report(RetrainStep value)
    {
        Seen.Add(value);
        Then?.Invoke(value);
    }
}
