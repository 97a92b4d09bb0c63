using System.Runtime.CompilerServices;

namespace MarketIntel.Features.Quality;

/// <summary>
/// Market time between two bars: the time elapsed, less the weekly closure and up to
/// <see cref="BarQualityOptions.HolidayDays"/> whole UTC days of market time without a bar (holidays). O(1) for
/// intervals under a day; longer ones visit at most a few days each.
/// </summary>
internal sealed class MarketClock
{
    public const long Day = 86_400_000;
    private const long Week = 7 * Day;

    private readonly long _weekendOrigin;   // a moment the weekly closure begins (Unix ms)
    private readonly long _weekendLength;
    private readonly int _holidayDays;

    public MarketClock(DayOfWeek weekendStartDay, TimeSpan weekendStartTime, TimeSpan weekendLength, int holidayDays)
    {
        // 1970-01-01, Unix time 0, was a Thursday.
        int daysFromEpoch = ((int)weekendStartDay - (int)DayOfWeek.Thursday + 7) % 7;
        _weekendOrigin = daysFromEpoch * Day + (long)weekendStartTime.TotalMilliseconds;
        _weekendLength = (long)weekendLength.TotalMilliseconds;
        _holidayDays = holidayDays;
    }

    /// <summary>Market time from <paramref name="from"/> to <paramref name="to"/> (ms, <paramref name="from"/> before <paramref name="to"/>).</summary>
    public long Between(long from, long to)
    {
        long time = to - from - (ClosedBefore(to) - ClosedBefore(from));
        // An interval of a day or less holds no whole day, so it can skip no holiday.
        return _holidayDays > 0 && to - from > Day ? time - Holidays(from, to) : time;
    }

    /// <summary>The market time of the first <see cref="_holidayDays"/> whole UTC days inside (from, to) that have any.</summary>
    private long Holidays(long from, long to)
    {
        long excused = 0;
        int found = 0;
        long end = FloorDiv(to, Day);
        // Whole days [d, d + 1 day) with from < d and d + 1 day <= to. Weekend days have no market time and are passed
        // over; the weekly closure is under seven days, so each week has a day that counts and the loop is short.
        for (long d = FloorDiv(from, Day) + 1; d < end && found < _holidayDays; d++)
        {
            long open = Day - (ClosedBefore((d + 1) * Day) - ClosedBefore(d * Day));
            if (open > 0)
            {
                excused += open;
                found++;
            }
        }
        return excused;
    }

    /// <summary>Closure time from the closure's origin up to <paramref name="t"/>: whole weeks, then the part of this week's.</summary>
    private long ClosedBefore(long t)
    {
        long since = t - _weekendOrigin;
        long weeks = FloorDiv(since, Week);
        return weeks * _weekendLength + Math.Min(since - weeks * Week, _weekendLength);
    }

    // Inlined, so that the division by a constant (a day, a week) compiles to a multiply.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long FloorDiv(long a, long b)
    {
        long q = a / b;
        return a % b < 0 ? q - 1 : q;
    }
}
