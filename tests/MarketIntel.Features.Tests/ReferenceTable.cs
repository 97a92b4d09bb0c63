using System.Globalization;
using System.IO.Compression;

namespace MarketIntel.Features.Tests;

/// <summary>A gzipped TTR fixture: a "row" column (1-based input row), the timestamp, then one column per feature.</summary>
internal sealed class ReferenceTable
{
    private ReferenceTable(string[] names, int[] rows, string[] timestamps, double[][] values)
    {
        Names = names;
        Rows = rows;
        Timestamps = timestamps;
        Values = values;
    }

    public string[] Names { get; }
    public int[] Rows { get; }
    public string[] Timestamps { get; }

    /// <summary>Values[feature][i]; empty cells are NaN, R's Inf/-Inf are infinities.</summary>
    public double[][] Values { get; }

    public static ReferenceTable Load(string path)
    {
        using var file = File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        string[] header = reader.ReadLine()!.Split(',');
        Assert.Equal("row", header[0]);
        string[] names = header[2..];
        var rows = new List<int>();
        var stamps = new List<string>();
        var values = names.Select(_ => new List<double>()).ToArray();
        while (reader.ReadLine() is { } line)
        {
            string[] cells = line.Split(',');
            rows.Add(int.Parse(cells[0], CultureInfo.InvariantCulture));
            stamps.Add(cells[1]);
            for (int f = 0; f < names.Length; f++)
            {
                values[f].Add(cells[f + 2] switch
                {
                    "" or "NA" or "NaN" => double.NaN,
                    "Inf" => double.PositiveInfinity,
                    "-Inf" => double.NegativeInfinity,
                    string s => double.Parse(s, CultureInfo.InvariantCulture),
                });
            }
        }
        return new ReferenceTable(names, rows.ToArray(), stamps.ToArray(), values.Select(v => v.ToArray()).ToArray());
    }
}
