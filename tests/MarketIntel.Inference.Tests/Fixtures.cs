using System.Globalization;
using System.IO.Compression;
using MarketIntel.Tests;

namespace MarketIntel.Inference.Tests;

/// <summary>The model fixtures in tests/fixtures/models: model, input matrix and the expected outputs made by XGBoost.</summary>
internal static class Fixtures
{
    public static string Dir => RepoPaths.Fixture("models");

    /// <summary>Every case with an expected-output file.</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(Dir, "*-expected.csv").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file)[..^"-expected.csv".Length]);
        }
        return data;
    }

    /// <summary>The model's bytes (.json, .json.gz or .onnx).</summary>
    public static byte[] ModelBytes(string name)
    {
        foreach (string ext in (string[])[".json", ".onnx"])
        {
            string path = Path.Combine(Dir, name + ext);
            if (File.Exists(path))
            {
                return File.ReadAllBytes(path);
            }
        }
        using var gz = new GZipStream(File.OpenRead(Path.Combine(Dir, name + ".json.gz")), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gz.CopyTo(bytes);
        return bytes.ToArray();
    }

    public static Model Load(string name) => Model.Load(ModelBytes(name), name);

    /// <summary>A hostile model from tests/fixtures/models/hostile (made by make_hostile_onnx.py).</summary>
    public static string Hostile(string name) => Path.Combine(Dir, "hostile", name + ".onnx");

    public static string Input(string name) => Path.Combine(Dir, name + "-input.csv");

    /// <summary>The expected outputs, row-major, with their column count.</summary>
    public static (double[] Values, int Columns) Expected(string name)
    {
        string[] lines = File.ReadAllLines(Path.Combine(Dir, name + "-expected.csv"));
        int columns = lines[0].Split(',').Length;
        var values = lines.Skip(1).Where(l => l.Length > 0)
            .SelectMany(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture))).ToArray();
        return (values, columns);
    }
}
