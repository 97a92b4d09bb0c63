using System.Globalization;

namespace MarketIntel.Features.Io;

/// <summary>
/// Reads bar CSV: a header row, the timestamp in the first column, then open, high, low, close, volume
/// (names case-insensitive, any order). A missing open/high/low column takes the close and a missing volume
/// column is 1, as the TTR reference script does, so <c>timestamp,close</c> alone is close-only data.
/// Every cell is validated; the first problem is reported with file, line and column.
/// </summary>
public static class BarCsv
{
    /// <summary>Reads and validates a bar file. <paramref name="closeColumn"/> picks another column as the close.</summary>
    public static BarSeries Read(string path, string? closeColumn = null)
    {
        return Parse(DataFormatException.ReadAllText(path), path, closeColumn);
    }

    /// <summary>Parses bar CSV text; <paramref name="source"/> names it in errors.</summary>
    public static BarSeries Parse(string text, string source, string? closeColumn = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = new LineReader(text);
        if (!lines.Next(out var header))
        {
            throw new DataFormatException(source, 1, 0, "empty file: expected a header row");
        }
        string[] names = Split(header.Text);
        var columns = Columns.Find(names, source, closeColumn);

        var timestamps = new List<string>();
        var cols = new List<double>[5];
        for (int c = 0; c < cols.Length; c++)
        {
            cols[c] = new List<double>();
        }
        Span<double> values = stackalloc double[5];
        while (lines.Next(out var line))
        {
            if (line.Text.IsWhiteSpace())
            {
                continue;
            }
            ParseRow(line, names, columns, source, values, out string timestamp);
            timestamps.Add(timestamp);
            for (int c = 0; c < 5; c++)
            {
                cols[c].Add(values[c]);
            }
        }
        if (timestamps.Count == 0)
        {
            throw new DataFormatException(source, 2, 0, "no data rows after the header");
        }
        return new BarSeries(timestamps.ToArray(), cols[0].ToArray(), cols[1].ToArray(), cols[2].ToArray(), cols[3].ToArray(), cols[4].ToArray());
    }

    private static void ParseRow(Line line, string[] names, Columns columns, string source, Span<double> values, out string timestamp)
    {
        ReadOnlySpan<char> rest = line.Text;
        Span<double> cells = stackalloc double[names.Length];
        timestamp = string.Empty;
        for (int c = 0; c < names.Length; c++)
        {
            if (c > 0)
            {
                if (rest.IsEmpty)
                {
                    throw new DataFormatException(source, line.Number, c + 1, $"short row: {c} cells, the header has {names.Length}");
                }
                rest = rest[1..];
            }
            int comma = rest.IndexOf(',');
            var cell = comma < 0 ? rest : rest[..comma];
            rest = comma < 0 ? ReadOnlySpan<char>.Empty : rest[comma..];
            if (c == 0)
            {
                timestamp = cell.Trim().ToString();
                if (timestamp.Length == 0)
                {
                    throw new DataFormatException(source, line.Number, 1, "empty timestamp");
                }
                continue;
            }
            if (!columns.IsUsed(c))
            {
                continue;
            }
            var trimmed = cell.Trim();
            if (trimmed.IsEmpty)
            {
                throw new DataFormatException(source, line.Number, c + 1, $"{names[c]}: empty cell");
            }
            if (!double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            {
                throw new DataFormatException(source, line.Number, c + 1, $"{names[c]}: '{trimmed}' is not a number");
            }
            if (!double.IsFinite(v))
            {
                throw new DataFormatException(source, line.Number, c + 1, $"{names[c]}: '{trimmed}' is not a finite number");
            }
            cells[c] = v;
        }
        if (!rest.IsEmpty)
        {
            int count = names.Length + rest.Count(',');
            throw new DataFormatException(source, line.Number, names.Length + 1, $"long row: {count} cells, the header has {names.Length}");
        }
        columns.Assemble(cells, values, source, line.Number, names);
    }

    private static string[] Split(ReadOnlySpan<char> header)
    {
        var names = new List<string>();
        foreach (var range in header.Split(','))
        {
            names.Add(header[range].Trim().Trim('"').ToString());
        }
        return names.ToArray();
    }

    /// <summary>Which header column holds which field; -1 when absent.</summary>
    private sealed class Columns
    {
        private const int Open = 0, High = 1, Low = 2, Close = 3, Volume = 4;
        private readonly int[] _index = [-1, -1, -1, -1, -1];
        private readonly bool[] _used;
        private string[]? _fieldNames;

        private Columns(int width) => _used = new bool[width];

        public bool IsUsed(int column) => _used[column];

        public static Columns Find(string[] names, string source, string? closeColumn)
        {
            if (names.Length < 2)
            {
                throw new DataFormatException(source, 1, 0, "the header needs a timestamp column and at least a close column");
            }
            var found = new Columns(names.Length);
            for (int c = 1; c < names.Length; c++)
            {
                string name = names[c];
                if (closeColumn is not null)
                {
                    if (string.Equals(name, closeColumn, StringComparison.OrdinalIgnoreCase))
                    {
                        found.Set(Close, c, source, name);
                    }
                    continue;
                }
                int field = BarRules.FieldIndex(name);
                if (field >= 0)
                {
                    found.Set(field, c, source, name);
                }
            }
            if (found._index[Close] < 0)
            {
                throw new DataFormatException(source, 1, 0, closeColumn is null
                    ? $"no close column in the header ({string.Join(",", names)})"
                    : $"no column named '{closeColumn}' in the header ({string.Join(",", names)})");
            }
            return found;
        }

        private void Set(int field, int column, string source, string name)
        {
            if (_index[field] >= 0)
            {
                throw new DataFormatException(source, 1, column + 1, $"column '{name}' appears twice in the header");
            }
            _index[field] = column;
            _used[column] = true;
        }

        /// <summary>Fills open..volume from a row's cells, with TTR's defaults, and checks the bar is consistent.</summary>
        public void Assemble(ReadOnlySpan<double> cells, Span<double> bar, string source, int line, string[] names)
        {
            double close = cells[_index[Close]];
            int given = 0;
            for (int f = 0; f < 5; f++)
            {
                int c = _index[f];
                bar[f] = c >= 0 ? cells[c] : f == Volume ? 1.0 : close;
                given |= c >= 0 ? 1 << f : 0;
            }
            // The header's own spelling in messages; a field the file lacks is named as the rule names it.
            _fieldNames ??= Enumerable.Range(0, 5).Select(f => _index[f] >= 0 ? names[_index[f]] : BarRules.FieldNames[f]).ToArray();
            if (BarRules.Check(bar[Open], bar[High], bar[Low], bar[Close], bar[Volume], _fieldNames, given) is { } problem)
            {
                int column = _index[problem.Field] >= 0 ? _index[problem.Field] : _index[Close];
                throw new DataFormatException(source, line, column + 1, problem.Message);
            }
        }
    }

    private readonly ref struct Line(ReadOnlySpan<char> text, int number)
    {
        public ReadOnlySpan<char> Text { get; } = text;
        public int Number { get; } = number;
    }

    private ref struct LineReader(string text)
    {
        private readonly string _text = text;
        private int _pos;
        private int _number;

        public bool Next(out Line line)
        {
            if (_pos >= _text.Length)
            {
                line = default;
                return false;
            }
            var rest = _text.AsSpan(_pos);
            int nl = rest.IndexOf('\n');
            var span = nl < 0 ? rest : rest[..nl];
            _pos += nl < 0 ? rest.Length : nl + 1;
            if (!span.IsEmpty && span[^1] == '\r')
            {
                span = span[..^1];
            }
            line = new Line(span, ++_number);
            return true;
        }
    }
}
