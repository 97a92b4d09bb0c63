namespace MarketIntel.Cli.Tests;

/// <summary>Runs the CLI in process, capturing what it prints, and gives each test its own temporary folder.</summary>
public abstract class CliTestBase : IDisposable
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory("mi-cli-").FullName;

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs <c>marketintel loadtest</c> with these options, requires success and returns its <c>--json</c> figures.</summary>
    protected System.Text.Json.JsonElement LoadTest(params string[] args) => LoadTestExiting(0, args);

    /// <summary>As <see cref="LoadTest"/>, for a run that must end with <paramref name="exitCode"/> (1: no request succeeded).</summary>
    protected System.Text.Json.JsonElement LoadTestExiting(int exitCode, params string[] args)
    {
        string json = Path.Combine(Dir, $"result-{Guid.NewGuid():N}.json");
        var (code, stdout, stderr) = Run(["loadtest", .. args, "--json", json]);
        Assert.True(code == exitCode, $"exit {code}: {stderr}{stdout}");
        Assert.True(exitCode == 0 || stderr.Contains("no request succeeded", StringComparison.Ordinal), stderr);
        Assert.Contains("requests/s", stdout, StringComparison.Ordinal);
        return System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)).RootElement;
    }

    protected static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
