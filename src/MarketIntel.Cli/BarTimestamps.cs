using System.Globalization;
using MarketIntel.Features.Io;

namespace MarketIntel.Cli;

/// <summary>
/// Bar CSV timestamps as the grid's Unix milliseconds: a whole number is taken as Unix milliseconds already; a
/// date or date-time (yyyy-MM-dd, yyyy-MM-dd HH:mm[:ss], ISO 8601) is read as UTC unless it carries an offset.
/// </summary>
internal static class BarTimestamps
{
    private static readonly string[] Formats =
    [
        "yyyy-MM-dd", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    public static long[] Parse(IReadOnlyList<string> timestamps, string source)
    {
        var result = new long[timestamps.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = Parse(timestamps[i], source, line: i + 2);
        }
        return result;
    }

    public static long Parse(string text, string source, int line)
    {
        string t = text.Trim().Trim('"');
        if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long ms))
        {
            return ms;
        }
        if (DateTimeOffset.TryParseExact(t, Formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time.ToUnixTimeMilliseconds();
        }
        throw new DataFormatException(source, line, 1, $"timestamp '{text}' is neither Unix milliseconds nor a date (yyyy-MM-dd[ HH:mm[:ss]] or ISO 8601)");
    }
}
