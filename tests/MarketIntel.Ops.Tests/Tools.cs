using System.Diagnostics;

namespace MarketIntel.Ops.Tests;

/// <summary>Debian's prometheus package on PATH: promtool and the server.</summary>
internal static class Tools
{
    /// <summary>Runs <paramref name="file"/> to its end in <paramref name="directory"/>: its exit code and its output and errors together.</summary>
    public static (int Exit, string Output) Run(string file, string directory, params string[] arguments)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{file} was not found: run ./scripts/test.sh, which installs Debian's prometheus (promtool and the server)", e);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output.Result + errors);
        }
    }

    /// <summary>The repository's deploy/prometheus folder, where the config, rules and promtool's tests are.</summary>
    public static string PrometheusFolder => Path.Combine(MarketIntel.Tests.RepoPaths.Root, "deploy", "prometheus");

    /// <summary>Every rule file of deploy/prometheus/rules.</summary>
    public static string[] RuleFiles => [.. Directory.GetFiles(Path.Combine(PrometheusFolder, "rules"), "*.yml").Order(StringComparer.Ordinal)];
}
