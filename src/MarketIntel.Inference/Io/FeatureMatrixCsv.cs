using System.Globalization;
using System.Text;
using MarketIntel.Features.Io;

namespace MarketIntel.Inference.Io;

/// <summary>A feature matrix read from CSV: column names and float32 values, row-major, NaN where a cell was empty.</summary>
public sealed record FeatureMatrix(string Source, string[] Names, float[] Values, int Rows)
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
    public static FeatureMatrix Read(string path)
    {
        return Parse(DataFormatException.ReadAllText(path), path);
    }

    public static FeatureMatrix Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] lines = text.Split('\n');
        int line = 0;
        string header = lines.Length > 0 ? lines[0].TrimEnd('\r') : string.Empty;
        if (header.Trim().Length == 0)
        {
            throw new DataFormatException(source, 1, 0, "empty file: expected a header of feature names");
        }
        string[] names = header.Split(',').Select(n => n.Trim().Trim('"')).ToArray();
        for (int c = 0; c < names.Length; c++)
        {
            if (names[c].Length == 0)
            {
                throw new DataFormatException(source, 1, c + 1, "empty column name");
            }
        }
        var values = new List<float>(lines.Length * names.Length);
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
                if (c == names.Length)
                {
                    throw new DataFormatException(source, line + 1, c + 1, $"long row: more cells than the header's {names.Length}");
                }
                ReadOnlySpan<char> cell = row[range].Trim();
                float v = float.NaN;
                if (!cell.IsEmpty && !float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out v))
                {
                    throw new DataFormatException(source, line + 1, c + 1, $"{names[c]}: '{cell}' is not a number");
                }
                values.Add(v);
                c++;
            }
            if (c < names.Length)
            {
                throw new DataFormatException(source, line + 1, c + 1, $"short row: {c} cells, the header has {names.Length}");
            }
            rows++;
        }
        return new FeatureMatrix(source, names, values.ToArray(), rows);
    }

    /// <summary>
    /// Writes predictions atomically (temporary file, then moved into place): header of output names, a line
    /// per row, each value the shortest text that round-trips to the same float.
    /// </summary>
    public static void WritePredictions(string path, IReadOnlyList<string> outputNames, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(outputNames);
        int k = outputNames.Count;
        var text = new StringBuilder((values.Length * 14) + 64);
        text.Append(string.Join(',', outputNames)).Append('\n');
        for (int i = 0; i < values.Length; i++)
        {
            text.Append(values[i].ToString("R", CultureInfo.InvariantCulture));
            text.Append((i + 1) % k == 0 ? '\n' : ',');
        }
        byte[] bytes = new UTF8Encoding(false).GetBytes(text.ToString());
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }
}
