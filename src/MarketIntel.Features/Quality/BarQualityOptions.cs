using System.Globalization;

namespace MarketIntel.Features.Quality;

/// <summary>
/// How <see cref="BarQuality"/> judges an asset's bars: gaps against the usual bar interval (learned online, with
/// weekends and single holidays not counted as missing time), stale prices (a close repeated over
/// <see cref="StaleBars"/> bars) and spikes (a log return above <see cref="SpikeSigmas"/> rolling standard deviations
/// that the next bar takes back). docs/data-quality.md explains each rule and why its default is what it is.
/// </summary>
public sealed class BarQualityOptions
{
    /// <summary>
    /// The usual bar interval is the median of this many latest intervals of market time (time outside the weekend,
    /// holidays taken out); no gap is judged before that many intervals have been seen. A median, so that the gaps
    /// themselves and a few irregular bars do not move it; 31 half-hours or about six weeks of days.
    /// </summary>
    public int IntervalWindow { get; set; } = 31;

    /// <summary>
    /// A gap is market time between two bars above this multiple of the usual interval. 1.5: one missing bar of a
    /// regular series is a gap; jitter of a fraction of an interval is not.
    /// </summary>
    public double GapMultiple { get; set; } = 1.5;

    /// <summary>The day of the week (UTC) the weekly market closure begins. Saturday, with <see cref="WeekendStartTime"/> 00:00.</summary>
    public DayOfWeek WeekendStartDay { get; set; } = DayOfWeek.Saturday;

    /// <summary>The time of day (UTC) on <see cref="WeekendStartDay"/> the weekly closure begins; from 00:00 up to 24:00 (excluded).</summary>
    public TimeSpan WeekendStartTime { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How long the weekly closure lasts; its time is never missing time. Two days (Saturday and Sunday, UTC) suits
    /// daily bars and FX quoted from Monday 00:00 to Friday 24:00 UTC; an FX feed that closes Friday 21:00 and opens
    /// Sunday 21:00 UTC sets Friday, 21:00 and two days. Zero: no weekend (crypto). Less than seven days.
    /// </summary>
    public TimeSpan WeekendLength { get; set; } = TimeSpan.FromDays(2);

    /// <summary>
    /// How many whole UTC calendar days of market time without a bar one interval may skip as holidays before the
    /// rest of it counts. 1: a single holiday (Good Friday, Christmas) is no gap, on daily or intraday bars alike;
    /// a closure of several weekdays is. 0: every missing market day is a gap.
    /// </summary>
    public int HolidayDays { get; set; } = 1;

    /// <summary>A stale price is the same close on this many bars in a row (at least 2).</summary>
    public int StaleBars { get; set; } = 5;

    /// <summary>The rolling standard deviation a spike is measured in is over this many latest log returns.</summary>
    public int SpikeWindow { get; set; } = 50;

    /// <summary>A spike's |log return| is above this many rolling standard deviations.</summary>
    public double SpikeSigmas { get; set; } = 6;

    /// <summary>
    /// The share of a candidate spike the next bar must take back (its close within (1 - share) x |jump| of the
    /// close before the jump, in log terms) for it to count: a bad tick jumps and comes back, a market move stays.
    /// 0.75. 0 turns the test off: every return above <see cref="SpikeSigmas"/> is a spike, found on its own bar
    /// (the plain definition); otherwise a spike is found one bar late, when the next bar shows it.
    /// </summary>
    public double SpikeReversal { get; set; } = 0.75;

    /// <summary>How many latest findings a report lists (the counts cover all of them).</summary>
    public int RecentFindings { get; set; } = 20;

    /// <summary>
    /// Every setting at fault, each named as <paramref name="section"/>:Setting with its value and the range it must
    /// be in; empty when the options are valid. A host's options validator reports these under its section.
    /// </summary>
    public IReadOnlyList<string> Problems(string section = nameof(BarQualityOptions))
    {
        var problems = new List<string>();
        void Check(bool ok, string setting, object value, string rule)
        {
            if (!ok)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:{setting} {value} {rule}"));
            }
        }
        Check(IntervalWindow is >= 3 and <= 10_000, nameof(IntervalWindow), IntervalWindow, "must be from 3 to 10000 intervals");
        Check(GapMultiple > 1 && double.IsFinite(GapMultiple), nameof(GapMultiple), GapMultiple, "must be a finite number above 1 (a multiple of the usual interval)");
        Check(Enum.IsDefined(WeekendStartDay), nameof(WeekendStartDay), WeekendStartDay, "must be a day of the week");
        Check(WeekendStartTime >= TimeSpan.Zero && WeekendStartTime < TimeSpan.FromDays(1), nameof(WeekendStartTime), WeekendStartTime, "must be a time of day, from 00:00 up to 24:00 (excluded)");
        Check(WeekendLength >= TimeSpan.Zero && WeekendLength < TimeSpan.FromDays(7), nameof(WeekendLength), WeekendLength, "must be from zero up to seven days (excluded)");
        Check(HolidayDays is >= 0 and <= 7, nameof(HolidayDays), HolidayDays, "must be from 0 to 7 days");
        Check(StaleBars is >= 2 and <= 1_000_000, nameof(StaleBars), StaleBars, "must be from 2 to 1000000 bars");
        Check(SpikeWindow is >= 5 and <= 100_000, nameof(SpikeWindow), SpikeWindow, "must be from 5 to 100000 returns");
        Check(SpikeSigmas > 0 && double.IsFinite(SpikeSigmas), nameof(SpikeSigmas), SpikeSigmas, "must be a finite number above 0 (standard deviations)");
        Check(SpikeReversal is >= 0 and <= 1, nameof(SpikeReversal), SpikeReversal, "must be from 0 (no reversal test) to 1 (a share of the jump)");
        Check(RecentFindings is >= 1 and <= 1000, nameof(RecentFindings), RecentFindings, "must be from 1 to 1000 findings");
        return problems;
    }
}
