using System.Diagnostics;
using MarketIntel.Tests;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// The reports page in a real browser (console_reports_browser.py, as <see cref="ConsoleBrowserTests"/> drives chromium)
/// on a report the real <c>marketintel backtest --report</c> wrote into the fixture's reports directory: the page must
/// list it with its files, and show it with both plots loaded and its Markdown as text. Screenshot:
/// test-artifacts/console/reports.png.
/// </summary>
[Collection("server")]
public sealed class ConsoleReportsBrowserTests(ServerFixture server)
{
    [Fact]
    public async Task The_reports_page_lists_a_backtest_report_and_shows_its_plots_and_text()
    {
        string report = $"msft-{Guid.NewGuid():N}"[..16];
        // A small walk-forward on the bundled MSFT bars: a few seconds. Its output is not read (see ConsoleBrowserTests).
        var backtest = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "marketintel.dll"), "backtest", "--data", RepoPaths.Data("msft-daily.csv"),
            "--spec", "rsi_14,roc_10", "--horizon", "3", "--train-rows", "150", "--test-rows", "40", "--rounds", "10",
            "--report", Path.Combine(server.ReportsDirectory, report)]);
        using (var cli = Process.Start(backtest)!)
        {
            await cli.WaitForExitAsync();
            Assert.Equal(0, cli.ExitCode);
        }

        try
        {
            await ConsoleScripts.RunToEnd("console_reports_browser.py", "reports.png", "--url", $"http://127.0.0.1:{server.HttpPort}", "--report", report);
        }
        finally
        {
            Directory.Delete(Path.Combine(server.ReportsDirectory, report), recursive: true);
        }
    }
}
