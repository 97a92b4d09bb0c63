using System.Globalization;
using MarketIntel.CommandLine;
using MarketIntel.Features.Io;

namespace MarketIntel.Cli;

/// <summary>
/// Bar CSV timestamps as the grid's Unix milliseconds: a whole number is taken as Unix milliseconds already; a
/// date or date-time (yyyy-MM-dd, yyyy-MM-dd HH:mm[:ss], ISO 8601) is read as UTC unless it carries an offset.
/// </summary>
internal static class BarTimestamps
{
    /// <summary>
    /// The smallest whole number <see cref="ParseTimes"/> takes as Unix milliseconds: 1973-03-03T09:46:40Z. Below it
    /// a whole number is far more likely a day or row number (or Unix seconds) than a time in milliseconds, and the
    /// grid would show it as a date in January 1970.
    /// </summary>
    public const long SmallestUnixMilliseconds = 100_000_000_000;

    private static readonly string[] Formats =
    [
        "yyyy-MM-dd", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    /// <summary>
    /// Keys that must be times, for <c>ingest</c> and the demo: the grid reports each bar's key as a UTC time (<c>asOf</c>), so a
    /// whole number below <see cref="SmallestUnixMilliseconds"/> is refused, naming its line, rather than shown as
    /// a 1970 date.
    /// </summary>
    public static long[] ParseTimes(IReadOnlyList<string> timestamps, string source)
    {
        var result = new long[timestamps.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = ParseTime(timestamps[i], source, line: i + 2);
        }
        return result;
    }

    /// <summary>A time given as an option (Unix milliseconds, a date or an ISO 8601 time), or a usage error naming the option.</summary>
    public static long ParseOption(string text, string option)
    {
        try
        {
            return ParseTime(text, option, line: 0);
        }
        catch (DataFormatException)
        {
            throw new UsageException($"option '{option}': '{text}' is neither Unix milliseconds nor a date (yyyy-MM-dd[ HH:mm[:ss]] or ISO 8601)");
        }
    }

    private static long ParseTime(string text, string source, int line)
    {
        string t = text.Trim().Trim('"');
        if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long ms))
        {
            if (ms < SmallestUnixMilliseconds)
            {
                throw new DataFormatException(source, line, 1,
                    $"timestamp '{text}' is not a time: a whole number is read as Unix milliseconds and must be at least {SmallestUnixMilliseconds} " +
                    "(1973-03-03); a day or row number (or Unix seconds) would show as a 1970 date, so give dates (yyyy-MM-dd[ HH:mm[:ss]] or ISO 8601) or Unix milliseconds");
            }
            return ms;
        }
        if (DateTimeOffset.TryParseExact(t, Formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time.ToUnixTimeMilliseconds();
        }
        throw new DataFormatException(source, line, 1, $"timestamp '{text}' is neither Unix milliseconds nor a date (yyyy-MM-dd[ HH:mm[:ss]] or ISO 8601)");
    }
}
