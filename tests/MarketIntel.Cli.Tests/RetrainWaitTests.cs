namespace MarketIntel.Cli.Tests;

/// <summary>
/// <c>marketintel retrain --wait</c> on a grid whose one silo is also a worker, over gRPC and HTTP: a job on an asset's
/// archived bars runs to a registered challenger (exit 0, the challenger named, progress lines with rows, folds and
/// rounds), and a job on an asset with no bars fails (exit 1, the job's detail on stderr).
/// </summary>
public sealed class RetrainWaitTests : CliTestBase, IAsyncLifetime
{
    private InProcessGrid? _grid;

    public async Task InitializeAsync()
    {
        _grid = await InProcessGrid.StartAsync();
        var (code, _, err) = Run("ingest", "--target", _grid.GrpcTarget, "--asset", "MSFT", "--file", RepoPaths.Data("msft-daily.csv"));
        Assert.True(code == 0, err);
    }

    public async Task DisposeAsync()
    {
        if (_grid is not null)
        {
            await _grid.DisposeAsync();
        }
    }

    private string Target(string scheme) => scheme == "grpc" ? _grid!.GrpcTarget : _grid!.Http("");

    // A version with no lineage: the request gives the spec and the label.
    private string Register(string scheme)
    {
        string name = $"wait-{scheme}";
        string model = Path.Combine(Dir, name + ".json");
        File.Copy(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"), model);
        var (code, _, err) = Run("models", "register", "--name", name, "--version", "v1", "--model", model, "--alias", "champion", "--target", Target(scheme));
        Assert.True(code == 0, err);
        return name;
    }

    [Theory]
    [InlineData("grpc")]
    [InlineData("http")]
    public async Task A_job_on_archived_bars_is_followed_to_a_registered_challenger_and_one_on_no_bars_to_its_failure(string scheme)
    {
        string name = Register(scheme);
        var (code, stdout, err) = await Task.Run(() => Run("retrain", name, "--asset", "MSFT", "--spec", "rsi_14,roc_5", "--label", "up_3", "--wait", "--target", Target(scheme)));
        Assert.True(code == 0, $"exit {code}: {err}{stdout}");
        Assert.Matches(@"job [0-9a-f]{32} of " + name + @": registered", stdout);
        Assert.Matches(@"base version v1, challenger \S+, attempt 1", stdout);
        Assert.DoesNotContain("challenger none", stdout, StringComparison.Ordinal);
        // A line per change on stderr (no terminal here), the last with every fold and round done.
        Assert.Contains(": running: ", err, StringComparison.Ordinal);
        Assert.Matches(@": registered: bars 249, rows [1-9]\d*, folds (\d+)/\1, rounds (\d+)/\2; validation ", err);

        (code, stdout, err) = await Task.Run(() => Run("retrain", name, "--asset", "NOBARS", "--spec", "rsi_14", "--label", "up_3", "--force", "--wait", "--target", Target(scheme)));
        Assert.True(code == Commands.RetrainCommand.NotDone, $"exit {code}: {err}{stdout}");
        Assert.Contains(": failed - ", stdout, StringComparison.Ordinal);
        Assert.Matches(@"marketintel retrain: job [0-9a-f]{32} failed: .*NOBARS", err);
    }
}
