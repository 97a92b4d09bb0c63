namespace MarketIntel.Cli;

/// <summary>A command's <c>--name value</c> options; unknown or repeated options are usage errors.</summary>
internal sealed class CliArguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _repeated = new(StringComparer.Ordinal);

    private CliArguments()
    {
    }

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
                throw new UsageException($"unknown option '--{name}'");
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

    public string Required(string name) =>
        _values.TryGetValue(name, out string? v) ? v : throw new UsageException($"missing required option '--{name}'");

    public string? Optional(string name) => _values.GetValueOrDefault(name);

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
        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
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
        return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value)
            && double.IsFinite(value) && (min is null || value >= min)
            ? value
            : throw new UsageException($"option '--{name}': '{text}' is not a number" + (min is { } m ? $" of at least {m.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : ""));
    }
}

/// <summary>A command line that cannot be run as written; reported on one line with exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
