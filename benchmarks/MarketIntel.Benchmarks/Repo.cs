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
}
