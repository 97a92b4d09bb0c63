using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// A clone of the repository has nothing beside it: docs, benchmarks and fixture scripts must not send a reader
/// to a path outside it (the workspace the project was built in had a ../shared folder; a clone does not).
/// </summary>
public sealed class StandAloneDocsTests
{
    private static readonly string[] Patterns = ["*.md", "*.sh", "*.py", "*.R", "*.lua"];

    [Fact]
    public void No_doc_or_script_points_outside_the_repository()
    {
        var offenders = new List<string>();
        foreach (string folder in new[] { "docs", "benchmarks", "scripts", Path.Combine("tests", "fixtures") })
        {
            foreach (string pattern in Patterns)
            {
                foreach (string file in Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, folder), pattern, SearchOption.AllDirectories))
                {
                    Check(file, offenders);
                }
            }
        }
        Check(Path.Combine(RepoPaths.Root, "README.md"), offenders);
        Assert.True(offenders.Count == 0, "outside the repository: " + string.Join("; ", offenders));
    }

    [Fact]
    public void The_readme_tour_defines_no_alias_that_a_script_would_ignore()
    {
        string readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        Assert.DoesNotContain("\nalias ", readme, StringComparison.Ordinal);
        Assert.Contains("export PATH=\"$PWD/src/MarketIntel.Cli/bin/Release/net10.0:$PATH\"", readme, StringComparison.Ordinal);
    }

    private static void Check(string file, List<string> offenders)
    {
        if (file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
            || file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
        {
            return;
        }
        string[] lines = File.ReadAllLines(file);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Contains("../shared", StringComparison.Ordinal))
            {
                offenders.Add($"{Path.GetRelativePath(RepoPaths.Root, file)}:{i + 1}");
            }
        }
    }
}
