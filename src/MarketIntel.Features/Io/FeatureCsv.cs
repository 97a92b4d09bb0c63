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

    /// <summary>Writes the table to a text writer.</summary>
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
        Span<char> buffer = stackalloc char[32];
        for (int r = 0; r < timestamps.Count; r++)
        {
            writer.Write(timestamps[r]);
            for (int c = 0; c < columns.Count; c++)
            {
                writer.Write(',');
                double v = columns[c][r];
                // Shortest text that round-trips to the same double; undefined values are empty cells.
                if (double.IsFinite(v) && v.TryFormat(buffer, out int written, "R", CultureInfo.InvariantCulture))
                {
                    writer.Write(buffer[..written]);
                }
            }
            writer.Write('\n');
        }
    }
}
