using System.Diagnostics;
using MarketIntel.Tests;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// Runs one of the console's browser scripts to its end: it reports a failure through a file and its exit code, never
/// through a pipe (see <see cref="ConsoleBrowserTests"/>), and leaves its screenshot in <see cref="ConsoleBrowserTests.Artifacts"/>.
/// </summary>
internal static class ConsoleScripts
{
    /// <summary>Runs <paramref name="script"/> (a file in this folder) with <paramref name="arguments"/>, and fails the test with the script's reason unless it ends well and leaves <paramref name="screenshot"/>.</summary>
    public static async Task RunToEnd(string script, string screenshot, params string[] arguments)
    {
        Directory.CreateDirectory(ConsoleBrowserTests.Artifacts);
        string failure = Path.Combine(Path.GetTempPath(), $"console-{Guid.NewGuid():N}.failure");
        var start = new ProcessStartInfo(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
        foreach (string argument in new[] { Path.Combine(RepoPaths.Root, "tests", "MarketIntel.Server.Tests", "Console", script) }
            .Concat(arguments).Concat(["--artifacts", ConsoleBrowserTests.Artifacts, "--failure", failure]))
        {
            start.ArgumentList.Add(argument);
        }
        using var browser = Process.Start(start)!;
        try
        {
            await browser.WaitForExitAsync();
            if (browser.ExitCode != 0)
            {
                Assert.Fail(File.Exists(failure) ? File.ReadAllText(failure)
                    : $"exit code {browser.ExitCode}, no reason given (./scripts/test.sh installs chromium, chromium-driver and python3-selenium)");
            }
            Assert.True(File.Exists(Path.Combine(ConsoleBrowserTests.Artifacts, screenshot)));
        }
        finally
        {
            if (!browser.HasExited)
            {
                browser.Kill(entireProcessTree: true);
            }
            File.Delete(failure);
        }
    }
}
