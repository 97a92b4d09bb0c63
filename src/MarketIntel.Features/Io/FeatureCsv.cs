using System.Globalization;
using System.Text;

namespace MarketIntel.Features.Io;

/// <summary>Writes feature tables: header <c>timestamp,&lt;names&gt;</c>, one row per bar, empty where undefined.</summary>
public static class FeatureCsv
{
    /// <summary>
    /// Writes the table to <paramref name="path"/> atomically: it goes to a temporary file beside the target
    /// first and is moved into place only when complete, so a failure never leaves a partial output file.
    /// </summary>
    public static void Write(string path, IReadOnlyList<string> timestamps, IReadOnlyList<string> names, IReadOnlyList<double[]> columns)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var writer = new StreamWriter(temp, append: false, new UTF8Encoding(false), bufferSize: 1 << 16))
            {
                Write(writer, timestamps, names, columns);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Writes the table to a text writer; rows are formatted in parallel blocks and written in order.</summary>
    public static void Write(TextWriter writer, IReadOnlyList<string> timestamps, IReadOnlyList<string> names, IReadOnlyList<double[]> columns)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(timestamps);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(columns);
        writer.Write("timestamp");
        foreach (string name in names)
        {
            writer.Write(',');
            writer.Write(name);
        }
        writer.Write('\n');

        const int BlockRows = 4096;
        int blocks = (timestamps.Count + BlockRows - 1) / BlockRows;
        // Formatting doubles dominates the cost of a features run; blocks are formatted ahead on all cores, a
        // bounded number at a time, and written strictly in row order.
        int window = Math.Max(2, Environment.ProcessorCount * 2);
        for (int first = 0; first < blocks; first += window)
        {
            int count = Math.Min(window, blocks - first);
            var texts = new string[count];
            Parallel.For(0, count, b =>
            {
                int start = (first + b) * BlockRows;
                texts[b] = FormatRows(timestamps, columns, start, Math.Min(start + BlockRows, timestamps.Count));
            });
            foreach (string text in texts)
            {
                writer.Write(text);
            }
        }
    }

    private static string FormatRows(IReadOnlyList<string> timestamps, IReadOnlyList<double[]> columns, int start, int end)
    {
        var builder = new StringBuilder((end - start) * (16 + columns.Count * 20));
        Span<char> buffer = stackalloc char[32];
        for (int r = start; r < end; r++)
        {
            builder.Append(timestamps[r]);
            for (int c = 0; c < columns.Count; c++)
            {
                builder.Append(',');
                double v = columns[c][r];
                // Shortest text that round-trips to the same double; undefined values are empty cells.
                if (double.IsFinite(v) && v.TryFormat(buffer, out int written, default, CultureInfo.InvariantCulture))
                {
                    builder.Append(buffer[..written]);
                }
            }
            builder.Append('\n');
        }
        return builder.ToString();
    }
}
