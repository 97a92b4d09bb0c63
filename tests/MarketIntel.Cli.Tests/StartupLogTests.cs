using System.Diagnostics;

namespace MarketIntel.Cli.Tests;

/// <summary>A start prints what an operator must see, not the notes Orleans prints on every start.</summary>
public sealed class StartupLogTests
{
    [Fact]
    public async Task The_demo_prints_neither_the_ServerGC_notes_nor_the_spurious_watchdog_stall()
    {
        // A process of its own: the host logs to the real console, which an in-process run does not capture.
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "marketintel.dll"), "demo" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        using var demo = Process.Start(start)!;
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        Task<string> stdout = demo.StandardOutput.ReadToEndAsync(cancel.Token);
        Task<string> stderr = demo.StandardError.ReadToEndAsync(cancel.Token);
        await demo.WaitForExitAsync(cancel.Token);
        string output = await stdout + await stderr;

        Assert.True(demo.ExitCode == 0, output);
        Assert.Contains("online features equal the batch form: yes", output, StringComparison.Ordinal);
        Assert.DoesNotContain("ServerGC", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Participant check thread", output, StringComparison.Ordinal);
    }
}
