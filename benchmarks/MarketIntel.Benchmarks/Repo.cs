using Microsoft.Extensions.Logging;

namespace MarketIntel.Benchmarks;

/// <summary>Finds the repository's data and fixtures from the benchmark's output folder.</summary>
internal static class Repo
{
    public static string File(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine([dir.FullName, .. parts]);
            if (System.IO.File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"{Path.Combine(parts)} not found above {AppContext.BaseDirectory}");
    }

    /// <summary>The speed model (300 trees of depth 6 over 40 features), unzipped from its fixture.</summary>
    public static byte[] SpeedModel()
    {
        using var gz = new System.IO.Compression.GZipStream(System.IO.File.OpenRead(File("tests", "fixtures", "models", "bench-d6-n300-f40.json.gz")),
            System.IO.Compression.CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gz.CopyTo(bytes);
        return bytes.ToArray();
    }

    /// <summary>The speed model's 1,000 fixture rows, in <paramref name="model"/>'s feature order, row-major.</summary>
    public static float[] SpeedModelRows(MarketIntel.Inference.Model model) =>
        MarketIntel.Inference.Io.FeatureMatrixCsv.Read(File("tests", "fixtures", "models", "bench-d6-n300-f40-input.csv")).ForModel(model);

    /// <summary>The real host on free loopback ports, dashboard off, warnings only, with <paramref name="settings"/> added (not started).</summary>
    public static Microsoft.AspNetCore.Builder.WebApplication Host(IReadOnlyDictionary<string, string?>? settings = null)
    {
        int[] ports = MarketIntel.Server.Hosting.FreePorts.Pick(3);
        var configuration = new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MarketIntel:GrpcPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MarketIntel:SiloPort"] = ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MarketIntel:Dashboard"] = "false",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }
        return MarketIntel.Server.Hosting.GridServer.Build(configuration, logging => logging.SetMinimumLevel(LogLevel.Warning));
    }
}
