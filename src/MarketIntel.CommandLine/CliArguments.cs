using System.Globalization;

namespace MarketIntel.CommandLine;

/// <summary>
/// A command's <c>--name value</c> (or <c>--name=value</c>) options, flags and repeatable options; unknown or repeated
/// options are usage errors. The one parser of the <c>marketintel</c> command, the load generator and the benchmarks.
/// </summary>
public sealed class CliArguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _repeated = new(StringComparer.Ordinal);

    private CliArguments()
    {
    }

    /// <summary>Reads <paramref name="args"/>: <paramref name="known"/> options take a value, <paramref name="flags"/> none, <paramref name="repeatable"/> may be given more than once.</summary>
    public static CliArguments Parse(ReadOnlySpan<string> args, IReadOnlyCollection<string> known, IReadOnlyCollection<string>? flags = null, IReadOnlyCollection<string>? repeatable = null)
    {
        var result = new CliArguments();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"unexpected argument '{arg}'");
            }
            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            bool isFlag = flags?.Contains(name) == true;
            if (!known.Contains(name) && !isFlag && repeatable?.Contains(name) != true)
            {
                // Naming what the command does take answers the mistake on the spot (a typo, an option of
                // another command) without a trip to --help.
                var accepted = known.Concat(flags ?? []).Concat(repeatable ?? []).Select(o => "--" + o);
                throw new UsageException($"unknown option '--{name}' (this command takes {string.Join(", ", accepted)})");
            }
            if (isFlag)
            {
                value ??= "true";
            }
            else if (value is null)
            {
                if (i + 1 >= args.Length)
                {
                    throw new UsageException($"option '--{name}' needs a value");
                }
                value = args[++i];
            }
            if (repeatable?.Contains(name) == true)
            {
                if (!result._repeated.TryGetValue(name, out var list))
                {
                    result._repeated[name] = list = [];
                }
                list.Add(value);
            }
            else if (!result._values.TryAdd(name, value))
            {
                throw new UsageException($"option '--{name}' given twice");
            }
        }
        return result;
    }

    /// <summary>The value of a required option, or a usage error naming it.</summary>
    public string Required(string name) =>
        _values.TryGetValue(name, out string? v) ? v : throw new UsageException($"missing required option '--{name}'");

    /// <summary>The value of an option, or null when it was not given.</summary>
    public string? Optional(string name) => _values.GetValueOrDefault(name);

    /// <summary>Whether a flag was given.</summary>
    public bool Flag(string name) => _values.ContainsKey(name);

    /// <summary>Every value of a repeatable option, in order.</summary>
    public IReadOnlyList<string> All(string name) => _repeated.TryGetValue(name, out var list) ? list : [];

    /// <summary>An optional integer option, or a usage error naming it.</summary>
    public int? OptionalInt(string name, int min, int max)
    {
        if (Optional(name) is not { } text)
        {
            return null;
        }
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value
            : throw new UsageException($"option '--{name}': '{text}' is not a whole number from {min} to {max}");
    }

    /// <summary>An optional finite number option (at least <paramref name="min"/> when given), or a usage error naming it.</summary>
    public double? OptionalDouble(string name, double? min = null)
    {
        if (Optional(name) is not { } text)
        {
            return null;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            && double.IsFinite(value) && (min is null || value >= min)
            ? value
            : throw new UsageException($"option '--{name}': '{text}' is not a number" + (min is { } m ? $" of at least {m.ToString(CultureInfo.InvariantCulture)}" : ""));
    }

    /// <summary>An optional duration such as <c>10s</c>, <c>500ms</c>, <c>2m</c> or a plain number of seconds (at most a day), or a usage error naming it.</summary>
    public TimeSpan? OptionalDuration(string name, bool allowZero = false)
    {
        if (Optional(name) is not { } text)
        {
            return null;
        }
        string t = text.Trim();
        (string number, double scale) = t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (t[..^2], 0.001)
            : t.EndsWith('s') || t.EndsWith('S') ? (t[..^1], 1.0)
            : t.EndsWith('m') || t.EndsWith('M') ? (t[..^1], 60.0)
            : t.EndsWith('h') || t.EndsWith('H') ? (t[..^1], 3600.0)
            : (t, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value)
            || value < 0 || (value == 0 && !allowZero) || value * scale > 86_400)
        {
            throw new UsageException($"option '--{name}': '{text}' is not a duration such as 10s, 500ms or 2m{(allowZero ? " (0 for none)" : "")}");
        }
        return TimeSpan.FromSeconds(value * scale);
    }
}

/// <summary>A command line that cannot be run as written; reported on one line with exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
