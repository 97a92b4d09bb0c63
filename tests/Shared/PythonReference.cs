using System.Diagnostics;

namespace MarketIntel.Tests;

/// <summary>Runs a reference script from tests/fixtures with Debian's python3 (python3-scipy, python3-xgboost), not a virtualenv's.</summary>
internal static class PythonReference
{
    /// <summary>The script's output lines for <paramref name="input"/> on its standard input; fails the test when it fails.</summary>
    public static string[] Run(string script, IEnumerable<string> arguments, string input = "")
    {
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        // Read both streams while writing: a script that fills a pipe must not wait on us.
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(input);
        process.StandardInput.Close();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0,
            $"{python} {Path.GetFileName(script)} failed (./scripts/test.sh installs python3-scipy and python3-xgboost): {stderr.Result}");
        return stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
