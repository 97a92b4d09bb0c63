using System.Diagnostics;
using MarketIntel.Abstractions;
using MarketIntel.Tests;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// The web console in a real browser (Debian's chromium, headless, driven by console_browser.py through chromedriver)
/// against the real host with ingested bars: the assets page lists the assets of a search with their served version
/// and prediction, and a row shows a new bar's time once the bar arrives, without a reload. Screenshots go to
/// test-artifacts/console/ at the repository's root (git-ignored).
/// </summary>
[Collection("server")]
public sealed class ConsoleBrowserTests(ServerFixture server)
{
    private static readonly string Script = Path.Combine(RepoPaths.Root, "tests", "MarketIntel.Server.Tests", "Console", "console_browser.py");

    /// <summary>Where the screenshots are kept.</summary>
    public static string Artifacts { get; } = Path.Combine(RepoPaths.Root, "test-artifacts", "console");

    [Fact]
    public async Task The_assets_page_lists_a_search_and_updates_a_row_live_when_its_bar_arrives()
    {
        string prefix = Bars.NewAsset("browser")[..18];
        string[] assets = [$"{prefix}-a", $"{prefix}-b"];
        foreach (string asset in assets)
        {
            await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 100));
        }
        Directory.CreateDirectory(Artifacts);

        string ready = Path.Combine(Path.GetTempPath(), $"console-ready-{Guid.NewGuid():N}");
        string asOf = FeatureJson.FormatTime(Bars.Timestamp(100));
        string failure = ready + ".failure";
        var start = new ProcessStartInfo(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
        foreach (string argument in new[] { Script, "--url", $"http://127.0.0.1:{server.HttpPort}", "--search", prefix, "--assets", string.Join(',', assets),
            "--asset", assets[1], "--as-of", asOf, "--ready", ready, "--artifacts", Artifacts, "--failure", failure })
        {
            start.ArgumentList.Add(argument);
        }
        using var browser = Process.Start(start)!;
        string Failure() => File.Exists(failure) ? File.ReadAllText(failure) : $"exit code {browser.ExitCode}, no reason given";
        try
        {
            // The script creates the file once the page lists the assets with its live feed open; it fails on its own
            // (after its own wait) when the page does not get there.
            while (!File.Exists(ready) && !browser.HasExited)
            {
                await Task.Delay(100);
            }
            if (!File.Exists(ready))
            {
                await browser.WaitForExitAsync();
                Assert.Fail($"the page did not list the assets with a live feed open (./scripts/test.sh installs chromium, chromium-driver and python3-selenium): {Failure()}");
            }

            Assert.Equal(1, (await Bars.Ingest(server.Grpc, assets[1], Bars.Range(100, 1))).Accepted);

            await browser.WaitForExitAsync();
            if (browser.ExitCode != 0)
            {
                Assert.Fail(Failure());
            }
            Assert.True(File.Exists(Path.Combine(Artifacts, "assets-live.png")));
        }
        finally
        {
            if (!browser.HasExited)
            {
                browser.Kill(entireProcessTree: true);
            }
            File.Delete(ready);
            File.Delete(failure);
        }
    }
}
