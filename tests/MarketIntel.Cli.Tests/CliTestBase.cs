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

    protected static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
