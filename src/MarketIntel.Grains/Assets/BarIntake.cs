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
        List<string>? kinds = null;
        int ignored = 0;
        for (int i = 0; i < bars.Count; i++)
        {
            BarData bar = bars[i];
            if (bar is null)
            {
                Reject(ref reasons, ref kinds, RejectionKind.Missing, "a bar is missing (null)");
                continue;
            }
            // A time far in the future would make every real bar after it "already seen"; checked before that test.
            if (BarRules.CheckTimestamp(bar.Timestamp, nowMs, futureTolerance) is { } badTime)
            {
                Reject(ref reasons, ref kinds, RejectionKind.Timestamp, Reason(bar, badTime));
                continue;
            }
            switch (series.Order(bar.Timestamp, accepted))
            {
                case BarOrder.Duplicate:
                    ignored++;
                    continue;
                case BarOrder.OutOfOrder:
                    long last = accepted is null ? series.LastTimestamp : accepted[^1].Timestamp;
                    Reject(ref reasons, ref kinds, RejectionKind.OutOfOrder, Reason(bar, $"timestamp is before the last accepted bar ({last}) and was never accepted"));
                    continue;
            }
            if (BarRules.Check(bar.Open, bar.High, bar.Low, bar.Close, bar.Volume) is { } problem)
            {
                Reject(ref reasons, ref kinds, RejectionKind.Invalid(problem.Field), Reason(bar, problem.Message));
                continue;
            }
            (accepted ??= []).Add(new StoredBar(bar.Timestamp, new Bar(bar.Open, bar.High, bar.Low, bar.Close, bar.Volume)));
        }
        return new Intake(accepted, ignored, reasons, kinds);
    }

    private static void Reject(ref List<string>? reasons, ref List<string>? kinds, string kind, string reason)
    {
        (reasons ??= []).Add(reason);
        (kinds ??= []).Add(kind);
    }

    private static string Reason(BarData bar, string problem) =>
        $"bar at {bar.Timestamp.ToString(CultureInfo.InvariantCulture)}: {problem}";
}

/// <summary>
/// A call's bars sorted: the accepted ones in order (null: none), how many were ignored, and why each rejected one was
/// (in words, and its <see cref="RejectionKind"/>, in the same order).
/// </summary>
internal readonly record struct Intake(List<StoredBar>? Accepted, int Ignored, List<string>? Reasons, List<string>? Kinds)
{
    public int AcceptedCount => Accepted?.Count ?? 0;

    public int Rejected => Reasons?.Count ?? 0;

    public IngestResult ToResult() => new(AcceptedCount, Ignored, Rejected, (IReadOnlyList<string>?)Reasons ?? []);
}

/// <summary>The kinds of rejected bars an asset counts (its data quality): the reasons' words without the bar's values.</summary>
internal static class RejectionKind
{
    public const string Missing = "missing";
    public const string Timestamp = "timestamp";
    public const string OutOfOrder = "out-of-order";

    private static readonly string[] InvalidField = [.. BarRules.FieldNames.Select(f => "invalid-" + f)];

    /// <summary>A value of field <paramref name="field"/> (<see cref="BarRules.FieldNames"/>) that <see cref="BarRules"/> refuses.</summary>
    public static string Invalid(int field) => InvalidField[field];
}
