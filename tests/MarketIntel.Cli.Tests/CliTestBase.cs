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
    protected System.Text.Json.JsonElement LoadTest(params string[] args)
    {
        string json = Path.Combine(Dir, $"result-{Guid.NewGuid():N}.json");
        var (code, stdout, stderr) = Run(["loadtest", .. args, "--json", json]);
        Assert.True(code == 0, stderr + stdout);
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
