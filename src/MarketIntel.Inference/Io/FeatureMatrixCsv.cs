using System.Globalization;
using System.Text;
using MarketIntel.Features.Io;

namespace MarketIntel.Inference.Io;

/// <summary>
/// A feature matrix read from CSV: column names and float32 values, row-major, NaN where a cell was empty; and,
/// when the file has one, the key column (its name and each row's key as written), kept apart from the values.
/// </summary>
public sealed record FeatureMatrix(string Source, string[] Names, float[] Values, int Rows, string? KeyName = null, string[]? Keys = null)
{
    /// <summary>
    /// The model's inputs, row-major: columns matched to the model's feature names when it has them (extra
    /// columns ignored, a missing one is an error), else taken by position (the counts must agree).
    /// </summary>
    public float[] ForModel(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        int f = model.FeatureCount, width = Names.Length;
        int[] columns;
        if (model.FeatureNames is { } wanted)
        {
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int c = 0; c < width; c++)
            {
                index.TryAdd(Names[c], c);
            }
            columns = new int[f];
            for (int i = 0; i < f; i++)
            {
                if (!index.TryGetValue(wanted[i], out columns[i]))
                {
                    throw new DataFormatException(Source, 1, 0, $"the model's feature '{wanted[i]}' is not a column (the model needs {string.Join(",", wanted)})");
                }
            }
        }
        else
        {
            if (width != f)
            {
                throw new DataFormatException(Source, 1, 0, $"{width} columns, but the model takes {f} features by position (it has no feature names)");
            }
            columns = Enumerable.Range(0, f).ToArray();
        }
        var inputs = new float[Rows * f];
        for (int r = 0; r < Rows; r++)
        {
            for (int i = 0; i < f; i++)
            {
                inputs[(r * f) + i] = Values[(r * width) + columns[i]];
            }
        }
        return inputs;
    }
}

/// <summary>Reads feature-matrix CSV (header of feature names; empty cell = missing) and writes predictions.</summary>
public static class FeatureMatrixCsv
{
    /// <summary>Reads <paramref name="path"/>; see <see cref="Parse"/> for the key column.</summary>
    public static FeatureMatrix Read(string path, string? keyColumn = null)
    {
        return Parse(DataFormatException.ReadAllText(path), path, keyColumn);
    }

    /// <summary>
    /// Parses feature-matrix CSV. The key column is <paramref name="keyColumn"/> when given; otherwise the first
    /// column when it is named <c>timestamp</c> (as <c>features</c> writes it) or its first cell is not a number.
    /// Keys are kept as written; every other cell must be a number or empty.
    /// </summary>
    public static FeatureMatrix Parse(string text, string source, string? keyColumn = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] lines = text.Split('\n');
        int line = 0;
        string header = lines.Length > 0 ? lines[0].TrimEnd('\r') : string.Empty;
        if (header.Trim().Length == 0)
        {
            throw new DataFormatException(source, 1, 0, "empty file: expected a header of feature names");
        }
        string[] columns = header.Split(',').Select(n => n.Trim().Trim('"')).ToArray();
        for (int c = 0; c < columns.Length; c++)
        {
            if (columns[c].Length == 0)
            {
                throw new DataFormatException(source, 1, c + 1, "empty column name");
            }
        }
        int key = KeyColumn(columns, lines, source, keyColumn);
        string[] names = columns.Where((_, c) => c != key).ToArray();
        var values = new List<float>(lines.Length * names.Length);
        var keys = key >= 0 ? new List<string>(lines.Length) : null;
        int rows = 0;
        for (line = 1; line < lines.Length; line++)
        {
            ReadOnlySpan<char> row = lines[line].AsSpan().TrimEnd('\r');
            if (row.IsWhiteSpace())
            {
                continue;
            }
            int c = 0;
            foreach (Range range in row.Split(','))
            {
                if (c == columns.Length)
                {
                    throw new DataFormatException(source, line + 1, c + 1, $"long row: more cells than the header's {columns.Length}");
                }
                ReadOnlySpan<char> cell = row[range].Trim();
                if (c == key)
                {
                    keys!.Add(cell.ToString());
                    c++;
                    continue;
                }
                float v = float.NaN;
                if (!cell.IsEmpty && !float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out v))
                {
                    throw new DataFormatException(source, line + 1, c + 1, $"{columns[c]}: '{cell}' is not a number"
                        + (c == 0 && keyColumn is null ? " (a first column of numbers is read as a feature unless it is named 'timestamp' or given as --key)" : ""));
                }
                values.Add(v);
                c++;
            }
            if (c < columns.Length)
            {
                throw new DataFormatException(source, line + 1, c + 1, $"short row: {c} cells, the header has {columns.Length}");
            }
            rows++;
        }
        return new FeatureMatrix(source, names, values.ToArray(), rows, key >= 0 ? columns[key] : null, keys?.ToArray());
    }

    /// <summary>The key column's index, or -1 when the file has none.</summary>
    private static int KeyColumn(string[] columns, string[] lines, string source, string? keyColumn)
    {
        if (keyColumn is not null)
        {
            int named = Array.IndexOf(columns, keyColumn.Trim());
            return named >= 0
                ? named
                : throw new DataFormatException(source, 1, 0, $"no column '{keyColumn}' for --key (columns: {string.Join(", ", columns)})");
        }
        if (columns[0].Equals("timestamp", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }
        // A key that is not named timestamp is recognised by its first cell: a date, a symbol, anything not a number.
        string? first = lines.Skip(1).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l));
        if (first is null)
        {
            return -1;
        }
        ReadOnlySpan<char> cell = first.AsSpan().TrimEnd('\r');
        int comma = cell.IndexOf(',');
        cell = (comma >= 0 ? cell[..comma] : cell).Trim();
        return !cell.IsEmpty && !float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? 0 : -1;
    }

    /// <summary>
    /// Writes predictions atomically (temporary file, then moved into place): header of output names, a line
    /// per row, each value the shortest text that round-trips to the same float. With a key column, its name heads
    /// the first column and row r starts with <c>keys[r]</c>, so predictions join back to their rows.
    /// </summary>
    public static void WritePredictions(string path, IReadOnlyList<string> outputNames, ReadOnlySpan<float> values, string? keyName = null, IReadOnlyList<string>? keys = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(outputNames);
        int k = outputNames.Count;
        if (keys is not null && keys.Count * k != values.Length)
        {
            throw new ArgumentException($"{keys.Count} keys for {values.Length / Math.Max(1, k)} rows of predictions", nameof(keys));
        }
        var text = new StringBuilder((values.Length * 14) + 64);
        if (keys is not null)
        {
            text.Append(keyName ?? "key").Append(',');
        }
        text.Append(string.Join(',', outputNames)).Append('\n');
        for (int i = 0; i < values.Length; i++)
        {
            if (keys is not null && i % k == 0)
            {
                text.Append(keys[i / k]).Append(',');
            }
            text.Append(values[i].ToString("R", CultureInfo.InvariantCulture));
            text.Append((i + 1) % k == 0 ? '\n' : ',');
        }
        byte[] bytes = new UTF8Encoding(false).GetBytes(text.ToString());
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }
}
