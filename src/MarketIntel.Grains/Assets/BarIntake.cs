using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Features;
using MarketIntel.Features.Series;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// Sorts one call's bars into accepted, ignored (timestamps already accepted) and rejected (with a reason each),
/// against the series as it is plus the bars accepted earlier in the call. A valid bar is what <see cref="BarRules"/>
/// says, the rule the CSV reader applies; sorting a valid bar allocates nothing beyond its place in the accepted list.
/// </summary>
internal static class BarIntake
{
    public static Intake Sort(IReadOnlyList<BarData> bars, AssetSeries series, long nowMs, TimeSpan futureTolerance)
    {
        List<StoredBar>? accepted = null;
        List<string>? reasons = null;
        int ignored = 0;
        for (int i = 0; i < bars.Count; i++)
        {
            BarData bar = bars[i];
            if (bar is null)
            {
                (reasons ??= []).Add("a bar is missing (null)");
                continue;
            }
            // A time far in the future would make every real bar after it "already seen"; checked before that test.
            if (BarRules.CheckTimestamp(bar.Timestamp, nowMs, futureTolerance) is { } badTime)
            {
                (reasons ??= []).Add(Reason(bar, badTime));
                continue;
            }
            switch (series.Order(bar.Timestamp, accepted))
            {
                case BarOrder.Duplicate:
                    ignored++;
                    continue;
                case BarOrder.OutOfOrder:
                    long last = accepted is null ? series.LastTimestamp : accepted[^1].Timestamp;
                    (reasons ??= []).Add(Reason(bar, $"timestamp is before the last accepted bar ({last}) and was never accepted"));
                    continue;
            }
            if (BarRules.Check(bar.Open, bar.High, bar.Low, bar.Close, bar.Volume) is { } problem)
            {
                (reasons ??= []).Add(Reason(bar, problem.Message));
                continue;
            }
            (accepted ??= []).Add(new StoredBar(bar.Timestamp, new Bar(bar.Open, bar.High, bar.Low, bar.Close, bar.Volume)));
        }
        return new Intake(accepted, ignored, reasons);
    }

    private static string Reason(BarData bar, string problem) =>
        $"bar at {bar.Timestamp.ToString(CultureInfo.InvariantCulture)}: {problem}";
}

/// <summary>A call's bars sorted: the accepted ones in order (null: none), how many were ignored, and why each rejected one was.</summary>
internal readonly record struct Intake(List<StoredBar>? Accepted, int Ignored, List<string>? Reasons)
{
    public int AcceptedCount => Accepted?.Count ?? 0;

    public int Rejected => Reasons?.Count ?? 0;

    public IngestResult ToResult() => new(AcceptedCount, Ignored, Rejected, (IReadOnlyList<string>?)Reasons ?? []);
}
