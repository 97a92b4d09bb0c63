using System.Globalization;

namespace MarketIntel.Features;

/// <summary>What a bar breaks, naming the field (0-4: open, high, low, close, volume) whose value is at fault.</summary>
public readonly record struct BarProblem(int Field, string Message);

/// <summary>
/// The one rule for a valid bar, used by the CSV reader and by the grid when bars arrive: finite prices above zero
/// and at most <see cref="MaxPrice"/>, a volume from zero to <see cref="MaxVolume"/>, low at most high, open and
/// close within [low, high], and a timestamp from <see cref="MinTimestamp"/> to a little past now. The bounds keep
/// the indicators' arithmetic (squares, price x volume, running sums) far from overflow.
/// </summary>
public static class BarRules
{
    /// <summary>The largest price accepted.</summary>
    public const double MaxPrice = 1e12;

    /// <summary>The largest volume accepted.</summary>
    public const double MaxVolume = 1e18;

    /// <summary>The earliest bar time accepted: 1800-01-01 in Unix milliseconds.</summary>
    public const long MinTimestamp = -5_364_662_400_000;

    /// <summary>The fields' names in the order of <see cref="BarProblem.Field"/>.</summary>
    public static IReadOnlyList<string> FieldNames { get; } = ["open", "high", "low", "close", "volume"];

    private const int Open = 0, High = 1, Low = 2, Close = 3, Volume = 4;

    /// <summary>The field a column name stands for (any case), or -1 for none.</summary>
    public static int FieldIndex(string name)
    {
        for (int f = 0; f < FieldNames.Count; f++)
        {
            if (string.Equals(FieldNames[f], name, StringComparison.OrdinalIgnoreCase))
            {
                return f;
            }
        }
        return -1;
    }

    /// <summary>
    /// The first problem of a bar (open, high, low, close, volume), or null when it is valid. <paramref name="names"/>
    /// names the fields in messages (a CSV file's header as written); each value is checked alone only where
    /// <paramref name="given"/> has its bit (1 &lt;&lt; field) set, so a value derived from another is not blamed.
    /// </summary>
    public static BarProblem? Check(double open, double high, double low, double close, double volume, IReadOnlyList<string>? names = null, int given = 0b11111)
    {
        names ??= FieldNames;
        for (int f = 0; f < 5; f++)
        {
            if ((given & (1 << f)) == 0)
            {
                continue;
            }
            double value = f switch { Open => open, High => high, Low => low, Close => close, _ => volume };
            if (!double.IsFinite(value))
            {
                return new BarProblem(f, $"{names[f]} {Fmt(value)} is not a finite number");
            }
            if (f == Volume ? value < 0 : value <= 0)
            {
                return new BarProblem(f, $"{names[f]} {Fmt(value)} must {(f == Volume ? "not be negative" : "be positive")}");
            }
            if (value > (f == Volume ? MaxVolume : MaxPrice))
            {
                return new BarProblem(f, $"{names[f]} {Fmt(value)} is above the largest {(f == Volume ? "volume" : "price")} accepted, {Fmt(f == Volume ? MaxVolume : MaxPrice)}");
            }
        }
        if (high < low)
        {
            return new BarProblem(High, $"high {Fmt(high)} is below low {Fmt(low)}");
        }
        if ((given & (1 << Open)) != 0 && (open > high || open < low))
        {
            return new BarProblem(Open, $"{names[Open]} {Fmt(open)} is outside the bar's range [low {Fmt(low)}, high {Fmt(high)}]");
        }
        if ((given & (1 << Close)) != 0 && (close > high || close < low))
        {
            return new BarProblem(Close, $"{names[Close]} {Fmt(close)} is outside the bar's range [low {Fmt(low)}, high {Fmt(high)}]");
        }
        return null;
    }

    /// <summary>Why a bar time (Unix ms) is not accepted at <paramref name="nowMs"/>, or null when it is.</summary>
    public static string? CheckTimestamp(long timestamp, long nowMs, TimeSpan futureTolerance)
    {
        if (timestamp < MinTimestamp)
        {
            return $"timestamp {timestamp.ToString(CultureInfo.InvariantCulture)} is before 1800-01-01, the earliest bar time accepted";
        }
        long latest = nowMs > long.MaxValue - (long)futureTolerance.TotalMilliseconds ? long.MaxValue : nowMs + (long)futureTolerance.TotalMilliseconds;
        return timestamp > latest
            ? $"timestamp {timestamp.ToString(CultureInfo.InvariantCulture)} is more than {futureTolerance} ahead of the server's clock (setting Grid:FutureTolerance)"
            : null;
    }

    private static string Fmt(double v) => v.ToString(CultureInfo.InvariantCulture);
}
