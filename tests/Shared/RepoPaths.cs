namespace MarketIntel.Tests;

/// <summary>Locates the repository's data and fixtures from a test's output folder.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Data(string file) => Path.Combine(Root, "data", file);

    public static string Fixture(params string[] parts) => Path.Combine([Root, "tests", "fixtures", .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MarketIntel.sln")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("MarketIntel.sln not found above " + AppContext.BaseDirectory);
    }
}
