using System.Buffers;
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
    public static void Write(string path, IReadOnlyList<string> timestamps, IReadOnlyList<string> names, IReadOnlyList<double[]> columns) =>
        AtomicFile.Write(path, stream => Write(stream, timestamps, names, columns));

    /// <summary>Writes the table as UTF-8 to a stream; rows are formatted in parallel blocks and written in order.</summary>
    public static void Write(Stream stream, IReadOnlyList<string> timestamps, IReadOnlyList<string> names, IReadOnlyList<double[]> columns)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(timestamps);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(columns);
        stream.Write(Encoding.UTF8.GetBytes("timestamp" + string.Concat(names.Select(n => "," + n)) + "\n"));

        const int BlockRows = 4096;
        int blocks = (timestamps.Count + BlockRows - 1) / BlockRows;
        // Formatting doubles dominates the cost of a features run; blocks are formatted straight to UTF-8 ahead
        // on all cores, a bounded number at a time, and written strictly in row order.
        int window = Math.Max(2, Environment.ProcessorCount * 2);
        var buffers = new ArrayBufferWriter<byte>[window];
        for (int b = 0; b < window; b++)
        {
            buffers[b] = new ArrayBufferWriter<byte>(BlockRows * (16 + columns.Count * 20));
        }
        for (int first = 0; first < blocks; first += window)
        {
            int count = Math.Min(window, blocks - first);
            Parallel.For(0, count, b =>
            {
                int start = (first + b) * BlockRows;
                buffers[b].ResetWrittenCount();
                FormatRows(buffers[b], timestamps, columns, start, Math.Min(start + BlockRows, timestamps.Count));
            });
            for (int b = 0; b < count; b++)
            {
                stream.Write(buffers[b].WrittenSpan);
            }
        }
    }

    private static void FormatRows(ArrayBufferWriter<byte> output, IReadOnlyList<string> timestamps, IReadOnlyList<double[]> columns, int start, int end)
    {
        const int MaxNumber = 32;
        for (int r = start; r < end; r++)
        {
            string timestamp = timestamps[r];
            Span<byte> row = output.GetSpan(Encoding.UTF8.GetMaxByteCount(timestamp.Length) + columns.Count * (MaxNumber + 1) + 1);
            int at = Encoding.UTF8.GetBytes(timestamp, row);
            for (int c = 0; c < columns.Count; c++)
            {
                row[at++] = (byte)',';
                double v = columns[c][r];
                // Shortest text that round-trips to the same double; undefined values are empty cells.
                if (double.IsFinite(v) && v.TryFormat(row[at..(at + MaxNumber)], out int written, default, CultureInfo.InvariantCulture))
                {
                    at += written;
                }
            }
            row[at++] = (byte)'\n';
            output.Advance(at);
        }
    }
}
