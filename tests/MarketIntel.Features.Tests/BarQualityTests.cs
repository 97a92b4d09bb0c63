using System.Globalization;
using MarketIntel.Features.Io;
using MarketIntel.Features.Quality;
using MarketIntel.Tests;

namespace MarketIntel.Features.Tests;

/// <summary>Gaps, stale prices and spikes: found on series built to have them, and on the bundled data only where it has them.</summary>
public sealed class BarQualityTests
{
    private static readonly long HalfHour = (long)TimeSpan.FromMinutes(30).TotalMilliseconds;
    private static readonly long Day = (long)TimeSpan.FromDays(1).TotalMilliseconds;

    private static long Ms(string utc) =>
        DateTimeOffset.Parse(utc, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeMilliseconds();

    /// <summary>Half-hour bars, Monday 00:00 to Friday 23:30 UTC, for <paramref name="weeks"/> weeks from Monday <paramref name="monday"/>.</summary>
    private static List<long> HalfHoursOfWeekdays(int weeks, string monday = "2024-01-01")
    {
        var times = new List<long>();
        for (long t = Ms(monday); t < Ms(monday) + weeks * 7 * Day; t += HalfHour)
        {
            if (DateTimeOffset.FromUnixTimeMilliseconds(t).DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday))
            {
                times.Add(t);
            }
        }
        return times;
    }

    /// <summary>Daily bars at 00:00 UTC on weekdays from Monday 2024-01-01.</summary>
    private static List<long> Weekdays(int weeks) =>
        HalfHoursOfWeekdays(weeks).Where(t => t % Day == 0).ToList();

    /// <summary>A random walk with Gaussian log returns of 0.1%: no equal closes, no move near six standard deviations.</summary>
    private static double[] Walk(int count, int seed = 7)
    {
        var rng = new Random(seed);
        var closes = new double[count];
        double price = 100;
        for (int i = 0; i < count; i++)
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            price *= Math.Exp(0.001 * gaussian);
            closes[i] = price;
        }
        return closes;
    }

    private static BarQualityReport Run(IReadOnlyList<long> times, IReadOnlyList<double> closes, BarQualityOptions? options = null)
    {
        var quality = new BarQuality(options ?? new BarQualityOptions());
        for (int i = 0; i < times.Count; i++)
        {
            quality.Observe(times[i], closes[i]);
        }
        return quality.Snapshot();
    }

    /// <summary>Every finding of a whole series, in order (the ring is made large enough to hold them all).</summary>
    private static (BarQualityReport Report, IReadOnlyList<QualityFinding> Findings) RunAll(IReadOnlyList<long> times, IReadOnlyList<double> closes, BarQualityOptions? options = null)
    {
        options ??= new BarQualityOptions();
        options.RecentFindings = 1000;
        var report = Run(times, closes, options);
        Assert.True(report.Recent.Count == report.Gaps + report.StaleRuns + report.Spikes, "more findings than the test's ring holds");
        return (report, report.Recent);
    }

    private static string Utc(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("2024-01-01", "2024-01-10")]
    [InlineData("1969-12-22", "1969-12-31")] // across Unix time 0: negative times keep their weekdays
    public void Missing_half_hours_on_a_Wednesday_are_one_gap_found_at_the_first_bar_after_them_and_weekends_are_none(string monday, string wednesday)
    {
        var times = HalfHoursOfWeekdays(weeks: 3, monday);
        times.RemoveAll(t => t >= Ms(wednesday + " 10:00") && t <= Ms(wednesday + " 11:30"));
        var report = Run(times, Walk(times.Count));

        Assert.Equal(HalfHour, report.UsualIntervalMs);
        Assert.Equal(1, report.Gaps);
        var gap = Assert.Single(report.Recent);
        Assert.Equal(QualityFinding.Gap, gap.Kind);
        Assert.Equal(Ms(wednesday + " 12:00"), gap.AtMs);
        Assert.Equal($"2h30m of market time without a bar after the bar at {wednesday}T09:30:00Z: 5 usual intervals of 30m", gap.Detail);
    }

    [Fact]
    public void One_missing_half_hour_is_a_gap_at_the_default_multiple()
    {
        var times = HalfHoursOfWeekdays(weeks: 2);
        times.Remove(Ms("2024-01-09 15:00"));
        var report = Run(times, Walk(times.Count));
        Assert.Equal([Ms("2024-01-09 15:30")], report.Recent.Select(f => f.AtMs));
    }

    [Fact]
    public void A_single_holiday_is_no_gap_on_daily_bars_but_two_missing_weekdays_are_one()
    {
        var times = Weekdays(weeks: 12);
        times.Remove(Ms("2024-02-19"));                      // a Monday holiday next to the weekend
        times.Remove(Ms("2024-03-06"));                      // a Wednesday holiday
        times.Remove(Ms("2024-03-13"));                      // Wednesday and Thursday missing: one day more than a holiday
        times.Remove(Ms("2024-03-14"));
        var report = Run(times, Walk(times.Count));

        Assert.Equal(Day, report.UsualIntervalMs);
        var gap = Assert.Single(report.Recent);
        Assert.Equal(Ms("2024-03-15"), gap.AtMs);
        Assert.StartsWith("2d of market time without a bar after the bar at 2024-03-12T00:00:00Z", gap.Detail);

        // Without the holiday allowance every missing weekday is a gap.
        var strict = Run(times, Walk(times.Count), new BarQualityOptions { HolidayDays = 0 });
        Assert.Equal([Ms("2024-02-20"), Ms("2024-03-07"), Ms("2024-03-15")], strict.Recent.Select(f => f.AtMs));
    }

    [Fact]
    public void A_weekday_holiday_of_half_hour_bars_is_no_gap()
    {
        // As usdchf-30m.csv skips Christmas Day: Tuesday 23:30 to Thursday 00:00.
        var times = HalfHoursOfWeekdays(weeks: 3);
        times.RemoveAll(t => t >= Ms("2024-01-10") && t < Ms("2024-01-11"));
        Assert.Equal(0, Run(times, Walk(times.Count)).Gaps);
    }

    [Fact]
    public void A_feed_closed_from_Friday_21_00_to_Sunday_21_00_has_a_gap_each_weekend_until_its_weekend_is_set()
    {
        var times = new List<long>();
        for (long t = Ms("2024-01-07 21:00"); t < Ms("2024-01-27"); t += HalfHour)
        {
            var at = DateTimeOffset.FromUnixTimeMilliseconds(t);
            bool closed = at.DayOfWeek == DayOfWeek.Saturday
                || (at.DayOfWeek == DayOfWeek.Friday && at.Hour >= 21) || (at.DayOfWeek == DayOfWeek.Sunday && at.Hour < 21);
            if (!closed)
            {
                times.Add(t);
            }
        }
        var closes = Walk(times.Count);

        var byDefault = Run(times, closes);
        Assert.Equal([Ms("2024-01-14 21:00"), Ms("2024-01-21 21:00")], byDefault.Recent.Select(f => f.AtMs));

        var fx = Run(times, closes, new BarQualityOptions
        {
            WeekendStartDay = DayOfWeek.Friday,
            WeekendStartTime = TimeSpan.FromHours(21),
        });
        Assert.Equal(0, fx.Gaps);
        Assert.Equal(HalfHour, fx.UsualIntervalMs);
    }

    [Fact]
    public void Around_the_clock_bars_with_no_weekend_set_have_their_missing_Saturday_found()
    {
        var times = new List<long>();
        for (long t = Ms("2024-01-01"); t < Ms("2024-01-22"); t += HalfHour)
        {
            times.Add(t);
        }
        times.RemoveAll(t => t >= Ms("2024-01-13 06:00") && t < Ms("2024-01-13 09:00"));
        var closes = Walk(times.Count);

        // By default Saturday is closed: bars in it pass no market time, so nothing there can be missing.
        Assert.Equal(0, Run(times, closes).Gaps);
        var crypto = Run(times, closes, new BarQualityOptions { WeekendLength = TimeSpan.Zero });
        var gap = Assert.Single(crypto.Recent);
        Assert.Equal(Ms("2024-01-13 09:00"), gap.AtMs);
        Assert.Equal(HalfHour, crypto.UsualIntervalMs);
    }

    [Fact]
    public void Seven_equal_closes_are_one_stale_run_dated_at_its_first_bar_and_four_are_none()
    {
        var times = Weekdays(weeks: 20);
        var closes = Walk(times.Count);
        for (int i = 41; i < 47; i++)
        {
            closes[i] = closes[40];
        }
        for (int i = 61; i < 64; i++)
        {
            closes[i] = closes[60];
        }
        var quality = new BarQuality(new BarQualityOptions());
        for (int i = 0; i <= 43; i++)
        {
            quality.Observe(times[i], closes[i]);
        }
        Assert.Equal(0, quality.Snapshot().StaleRuns);
        quality.Observe(times[44], closes[44]);
        Assert.Equal(5, quality.Snapshot().CurrentStaleBars);
        for (int i = 45; i < times.Count; i++)
        {
            quality.Observe(times[i], closes[i]);
            if (i == 46)
            {
                Assert.Equal(7, quality.Snapshot().CurrentStaleBars);
            }
        }
        var report = quality.Snapshot();

        Assert.Equal(1, report.StaleRuns);
        Assert.Equal(0, report.CurrentStaleBars);
        var stale = Assert.Single(report.Recent);
        Assert.Equal(QualityFinding.Stale, stale.Kind);
        Assert.Equal(times[40], stale.AtMs);
        Assert.Equal(string.Create(CultureInfo.InvariantCulture,
            $"close {closes[40]:R} on 7 bars in a row, from {DateTimeOffset.FromUnixTimeMilliseconds(times[40]).UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'} to {DateTimeOffset.FromUnixTimeMilliseconds(times[46]).UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}"),
            stale.Detail);
    }

    [Fact]
    public void A_report_lists_the_latest_findings_oldest_first_and_a_stale_run_grows_in_place()
    {
        // Three gaps, then a stale run with a fourth gap inside it: the run's finding says how long the run lasted,
        // though a newer finding came after it.
        var times = Weekdays(weeks: 20);
        foreach (string day in new[] { "2024-02-14", "2024-02-15", "2024-02-28", "2024-02-29", "2024-03-13", "2024-03-14", "2024-04-03", "2024-04-04" })
        {
            times.Remove(Ms(day));
        }
        var closes = Walk(times.Count);
        int runStart = times.IndexOf(Ms("2024-03-27"));
        for (int i = runStart + 1; i < runStart + 10; i++)
        {
            closes[i] = closes[runStart]; // ten bars, 27 March to 11 April, across the gap of 3 and 4 April
        }
        var report = Run(times, closes, new BarQualityOptions { RecentFindings = 2 });

        Assert.Equal((4, 1), (report.Gaps, report.StaleRuns));
        Assert.Equal([(QualityFinding.Stale, Ms("2024-03-27")), (QualityFinding.Gap, Ms("2024-04-05"))],
            report.Recent.Select(f => (f.Kind, f.AtMs)));
        Assert.EndsWith("on 10 bars in a row, from 2024-03-27T00:00:00Z to 2024-04-11T00:00:00Z", report.Recent[0].Detail, StringComparison.Ordinal);
        Assert.StartsWith("2d of market time without a bar after the bar at 2024-04-02T00:00:00Z", report.Recent[1].Detail, StringComparison.Ordinal);

        var wide = Run(times, closes, new BarQualityOptions { RecentFindings = 10 });
        Assert.Equal([Ms("2024-02-16"), Ms("2024-03-01"), Ms("2024-03-15"), Ms("2024-03-27"), Ms("2024-04-05")], wide.Recent.Select(f => f.AtMs));
    }

    [Fact]
    public void A_one_bar_spike_is_found_at_its_bar_once_the_next_bar_takes_it_back()
    {
        var times = Weekdays(weeks: 30);
        var closes = Walk(times.Count);
        closes[100] = closes[99] * 1.01; // a bad tick ten standard deviations up, and the next bar back where it was
        closes[101] = closes[99];
        var quality = new BarQuality(new BarQualityOptions());
        for (int i = 0; i <= 100; i++)
        {
            quality.Observe(times[i], closes[i]);
        }
        Assert.Equal(0, quality.Snapshot().Spikes);
        for (int i = 101; i < times.Count; i++)
        {
            quality.Observe(times[i], closes[i]);
        }
        var report = quality.Snapshot();

        Assert.Equal(1, report.Spikes);
        var spike = Assert.Single(report.Recent);
        Assert.Equal(QualityFinding.Spike, spike.Kind);
        Assert.Equal(times[100], spike.AtMs);
        Assert.Contains("and the next bar took 100% of it back", spike.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_jump_that_stays_is_no_spike_but_is_one_on_its_own_bar_under_the_plain_definition()
    {
        var times = Weekdays(weeks: 30);
        var closes = Walk(times.Count);
        for (int i = 100; i < closes.Length; i++)
        {
            closes[i] *= 1.01; // a new level, as a market move leaves it
        }
        Assert.Equal(0, Run(times, closes).Spikes);

        var plain = new BarQuality(new BarQualityOptions { SpikeReversal = 0 });
        for (int i = 0; i <= 100; i++)
        {
            plain.Observe(times[i], closes[i]);
        }
        var spike = Assert.Single(plain.Snapshot().Recent);
        Assert.Equal(times[100], spike.AtMs);
        Assert.DoesNotContain("back", spike.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_October_1987_crash_is_a_spike_only_under_the_plain_definition()
    {
        var bars = BarCsv.Read(RepoPaths.Data("ttrc-daily.csv"));
        long[] times = bars.Timestamps.Select(Ms).ToArray();
        var plain = RunAll(times, bars.Close, new BarQualityOptions { SpikeReversal = 0 }).Findings
            .Where(f => f.Kind == QualityFinding.Spike).Select(f => Utc(f.AtMs)).ToList();
        Assert.Contains("1987-10-19 00:00", plain);
        var byDefault = RunAll(times, bars.Close).Findings.Where(f => f.Kind == QualityFinding.Spike);
        Assert.Empty(byDefault);
    }

    /// <summary>
    /// Every bundled series with the default options, and what each finding is. The data are clean but not spotless:
    /// the findings below are real, explained in docs/data-quality.md, and asserted here so that none appears or goes
    /// unnoticed.
    /// </summary>
    [Fact]
    public void The_bundled_data_have_only_the_documented_findings()
    {
        var files = Directory.GetFiles(Path.Combine(RepoPaths.Root, "data"), "*.csv").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(["eustockmarkets-daily.csv", "msft-daily.csv", "ttrc-daily.csv", "usdchf-30m.csv"], files);

        // The New York Stock Exchange was closed from 11 to 14 September 2001: four weekdays, three more than a holiday.
        foreach (string file in new[] { "ttrc-daily.csv", "msft-daily.csv" })
        {
            var (report, findings) = Series(file);
            var gap = Assert.Single(findings);
            Assert.Equal((QualityFinding.Gap, "2001-09-17 00:00"), (gap.Kind, Utc(gap.AtMs)));
            Assert.StartsWith("4d of market time without a bar after the bar at 2001-09-10T00:00:00Z", gap.Detail);
            Assert.Equal(Day, report.UsualIntervalMs);
        }

        // Four indices on made-up business days: no gaps, spikes or stale runs. The closes do repeat at holidays
        // (Christmas to New Year, Easter; the series carries a closed exchange's last value), up to four days in a
        // row, under the default five.
        foreach (string index in new[] { "DAX", "SMI", "CAC", "FTSE" })
        {
            var (report, findings) = Series("eustockmarkets-daily.csv", index);
            Assert.Empty(findings);
            Assert.Equal(Day, report.UsualIntervalMs);
            Assert.InRange(LongestRun(BarCsv.Read(RepoPaths.Data("eustockmarkets-daily.csv"), index).Close), 3, 4);
        }

        // USD/CHF half-hours: no gaps (weekends, Christmas Days and 1 January 1999 are closures), one spike and the
        // stale quotes of a thin feed: New Year's Days, Good Friday 1997, 4 May 1998.
        {
            var (report, findings) = Series("usdchf-30m.csv");
            Assert.Equal(HalfHour, report.UsualIntervalMs);
            Assert.Equal(0, report.Gaps);

            var spike = Assert.Single(findings, f => f.Kind == QualityFinding.Spike);
            Assert.Equal("2000-12-25 23:00", Utc(spike.AtMs)); // Christmas Day: 38 pips down and straight back in a market that hardly moved

            var bars = BarCsv.Read(RepoPaths.Data("usdchf-30m.csv"));
            var runs = RunsOfEqualCloses(bars, least: 5);
            var stale = findings.Where(f => f.Kind == QualityFinding.Stale).ToList();
            Assert.Equal(runs.Select(r => (Ms(r.Start), $"on {r.Length} bars in a row")),
                stale.Select(f => (f.AtMs, f.Detail[(f.Detail.IndexOf(" on ", StringComparison.Ordinal) + 1)..f.Detail.IndexOf(',', StringComparison.Ordinal)])));
            Assert.Equal(54, report.StaleRuns);
            Assert.Contains(stale, f => Utc(f.AtMs) == "1997-03-28 23:00" && f.Detail.Contains("on 27 bars", StringComparison.Ordinal));
            Assert.Contains(stale, f => Utc(f.AtMs) == "1998-05-04 13:00" && f.Detail.Contains("on 24 bars", StringComparison.Ordinal));
            // New Year's Day 1997: one pip up every fifth bar all day, a straight line filled in between two quotes.
            Assert.Equal(8, stale.Count(f => Utc(f.AtMs).StartsWith("1997-01-01", StringComparison.Ordinal)));
        }
    }

    private static (BarQualityReport Report, IReadOnlyList<QualityFinding> Findings) Series(string file, string? column = null)
    {
        var bars = BarCsv.Read(RepoPaths.Data(file), column);
        return RunAll(bars.Timestamps.Select(Ms).ToArray(), bars.Close);
    }

    /// <summary>A batch recount: runs of at least <paramref name="least"/> equal closes, with their first bar and length.</summary>
    private static List<(string Start, int Length)> RunsOfEqualCloses(BarSeries bars, int least)
    {
        var runs = new List<(string, int)>();
        int start = 0;
        for (int i = 1; i <= bars.Count; i++)
        {
            if (i == bars.Count || bars.Close[i] != bars.Close[start])
            {
                if (i - start >= least)
                {
                    runs.Add((bars.Timestamps[start], i - start));
                }
                start = i;
            }
        }
        return runs;
    }

    private static int LongestRun(double[] closes)
    {
        int longest = 1, run = 1;
        for (int i = 1; i < closes.Length; i++)
        {
            run = closes[i] == closes[i - 1] ? run + 1 : 1;
            longest = Math.Max(longest, run);
        }
        return longest;
    }

    [Fact]
    public void Observing_a_bar_allocates_nothing_once_the_first_finding_has_its_ring()
    {
        // usdchf-30m has stale runs and a spike, so recording findings is measured too.
        var bars = BarCsv.Read(RepoPaths.Data("usdchf-30m.csv"));
        long[] times = bars.Timestamps.Select(Ms).ToArray();
        var warm = new BarQuality(new BarQualityOptions());
        for (int i = 0; i < times.Length; i++)
        {
            warm.Observe(times[i], bars.Close[i]); // JIT tiers and static initialisation
        }
        // Several rounds, keeping the smallest: a one-off allocation by the runtime may land in one, one per bar in all.
        long least = long.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            var quality = new BarQuality(new BarQualityOptions());
            int first = 0;
            while (quality.Findings == 0)
            {
                quality.Observe(times[first], bars.Close[first]);
                first++;
            }
            long found = quality.Findings;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = first; i < times.Length; i++)
            {
                quality.Observe(times[i], bars.Close[i]);
            }
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.True(quality.Findings > found, "findings after the first are recorded while measured");
        }
        Assert.Equal(0, least);
    }

    [Fact]
    public void The_findings_ring_is_allocated_with_the_first_finding_not_before()
    {
        // A ring of 1,000 findings is at least 72,000 bytes: bars without a finding must not pay for it.
        var options = new BarQualityOptions { RecentFindings = 1000 };
        var times = Weekdays(weeks: 10);
        var closes = Walk(times.Count);
        var warm = new BarQuality(options);
        for (int i = 0; i < times.Count; i++)
        {
            warm.Observe(times[i], closes[i]); // JIT tiers and static initialisation
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var fresh = new BarQuality(options);
        for (int i = 0; i < times.Count; i++)
        {
            fresh.Observe(times[i], closes[i]);
        }
        Assert.Equal(0, fresh.Findings);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 16_000);
        Assert.Empty(fresh.Snapshot().Recent);

        // A stale run is the first finding: the ring comes with it, and the run grows in place in it.
        long last = times[^1];
        before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 1; i <= 7; i++)
        {
            fresh.Observe(last + i * Day, closes[^1]);
        }
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before >= 72_000);
        QualityFinding stale = Assert.Single(fresh.Snapshot().Recent);
        Assert.Equal(QualityFinding.Stale, stale.Kind);
        Assert.Contains("on 8 bars in a row", stale.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bar_out_of_time_order_or_with_a_bad_close_is_refused_by_name_and_changes_nothing()
    {
        var times = Weekdays(weeks: 15);
        var closes = Walk(times.Count);
        var quality = new BarQuality(new BarQualityOptions());
        for (int i = 0; i < 60; i++)
        {
            quality.Observe(times[i], closes[i]);
        }
        var before = quality.Snapshot();

        var late = Assert.Throws<ArgumentException>(() => quality.Observe(times[59], closes[59]));
        Assert.Contains("the bar at 2024-03-22T00:00:00Z is not after the previous bar at 2024-03-22T00:00:00Z", late.Message, StringComparison.Ordinal);
        foreach (double bad in new[] { 0, -1.5, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => quality.Observe(times[60], bad));
            Assert.Contains("the bar at 2024-03-25T00:00:00Z has close", e.Message, StringComparison.Ordinal);
        }
        Assert.Equal((before.Bars, before.Gaps, before.StaleRuns, before.Spikes, before.UsualIntervalMs),
            (quality.Snapshot().Bars, quality.Snapshot().Gaps, quality.Snapshot().StaleRuns, quality.Snapshot().Spikes, quality.Snapshot().UsualIntervalMs));

        // The series goes on as if the refused bars had never come.
        var whole = new BarQuality(new BarQualityOptions());
        for (int i = 60; i < times.Count; i++)
        {
            quality.Observe(times[i], closes[i]);
        }
        for (int i = 0; i < times.Count; i++)
        {
            whole.Observe(times[i], closes[i]);
        }
        Assert.Equivalent(whole.Snapshot(), quality.Snapshot(), strict: true);
    }

    [Fact]
    public void Options_at_fault_are_all_named_with_their_section()
    {
        var options = new BarQualityOptions
        {
            IntervalWindow = 2, GapMultiple = 1, WeekendLength = TimeSpan.FromDays(7), StaleBars = 1,
            SpikeSigmas = double.NaN, SpikeReversal = 1.5, RecentFindings = 0, HolidayDays = -1,
            WeekendStartTime = TimeSpan.FromHours(24), SpikeWindow = 4,
        };
        var problems = options.Problems("Grid:Quality");
        Assert.Equal(10, problems.Count);
        Assert.Contains("Grid:Quality:StaleBars 1 must be from 2 to 1000000 bars", problems);
        Assert.Contains("Grid:Quality:SpikeReversal 1.5 must be from 0 (no reversal test) to 1 (a share of the jump)", problems);
        Assert.All(problems, p => Assert.StartsWith("Grid:Quality:", p, StringComparison.Ordinal));

        var e = Assert.Throws<ArgumentException>(() => new BarQuality(options));
        Assert.Contains("BarQualityOptions:GapMultiple 1 must be a finite number above 1", e.Message, StringComparison.Ordinal);
        Assert.Empty(new BarQualityOptions().Problems());
    }

    [Fact]
    public void The_rolling_median_equals_a_sorted_recount_after_every_push()
    {
        var rng = new Random(3);
        var median = new RollingMedian(7);
        var pushed = new List<long>();
        for (int i = 0; i < 2000; i++)
        {
            long value = rng.Next(0, 4) == 0 ? 1800 : rng.Next(0, 5000); // many repeats, as bar intervals have
            median.Push(value);
            pushed.Add(value);
            var window = pushed.TakeLast(7).Order().ToList();
            Assert.Equal(window[(window.Count - 1) / 2], median.Median);
            Assert.Equal(window.Count == 7, median.IsFull);
        }
    }
}
