using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// <c>marketintel models</c> against a running grid over gRPC: register with the lineage found next to the model and
/// an alias, then list, show, move and remove aliases, tag, shadow and split; each error is one line naming what is
/// wrong, with exit code 2.
/// </summary>
public sealed class ModelsCommandTests : CliTestBase, IAsyncLifetime
{
    private InProcessGrid? _grid;

    public async Task InitializeAsync() => _grid = await InProcessGrid.StartAsync();

    public async Task DisposeAsync()
    {
        if (_grid is not null)
        {
            await _grid.DisposeAsync();
        }
    }

    private string Target => _grid!.GrpcTarget;

    private string ModelFile(string name, bool withLineage)
    {
        string path = Path.Combine(Dir, name + ".json");
        File.Copy(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"), path);
        if (withLineage)
        {
            File.WriteAllText(path + ".lineage.json", "{\"tool\": \"test\", \"label\": {\"name\": \"up_5\", \"kind\": \"direction\", \"horizon\": 5}}");
        }
        return path;
    }

    private (int Code, string Out, string Err) Models(params string[] args) => Run(["models", .. args, "--target", Target]);

    [Fact]
    public async Task Register_with_the_lineage_beside_the_model_and_an_alias_then_list_show_tag_shadow_split_and_move()
    {
        string v1 = ModelFile("m1", withLineage: true);
        string v2 = ModelFile("m2", withLineage: false);
        var (code, stdout, err) = await Task.Run(() => Models("register", "--name", "direction", "--version", "v1", "--model", v1, "--alias", "champion"));
        Assert.True(code == 0, err);
        Assert.Contains("registered direction@v1", stdout, StringComparison.Ordinal);
        Assert.Contains($"label up_5, lineage from {v1}.lineage.json, alias champion", stdout, StringComparison.Ordinal);
        (code, stdout, err) = await Task.Run(() => Models("register", "--name", "direction", "--version", "v2", "--model", v2));
        Assert.True(code == 0, err);
        Assert.Contains("label none, no lineage", stdout, StringComparison.Ordinal);

        Assert.Contains("direction: 2 version(s) (v1, v2); aliases champion -> v1; no shadows", (await Task.Run(() => Models("list"))).Out, StringComparison.Ordinal);
        Assert.Contains("tags stage=candidate", (await Task.Run(() => Models("tag", "--name", "direction", "--version", "v2", "--set", "stage=candidate"))).Out, StringComparison.Ordinal);
        Assert.Contains("shadows v2", (await Task.Run(() => Models("shadow", "--name", "direction", "--version", "v2"))).Out, StringComparison.Ordinal);
        Assert.Contains("champion -> v1 (split: 0.2 to v2)", (await Task.Run(() => Models("split", "--name", "direction", "--alias", "champion", "--version", "v2", "--weight", "0.2"))).Out, StringComparison.Ordinal);
        Assert.Contains("aliases champion -> v2; shadows v2", (await Task.Run(() => Models("alias", "--name", "direction", "--alias", "champion", "--version", "v2"))).Out, StringComparison.Ordinal);

        (code, stdout, err) = await Task.Run(() => Models("show", "--name", "direction"));
        Assert.True(code == 0, err);
        Assert.Contains("v1: xgboost, 8 features, label up_5, sha256 ", stdout, StringComparison.Ordinal);
        Assert.Contains("tags stage=candidate, no lineage", stdout, StringComparison.Ordinal);
        Assert.Contains("no aliases", (await Task.Run(() => Models("alias", "--name", "direction", "--alias", "champion", "--remove"))).Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_are_one_line_naming_what_is_wrong_and_exit_2()
    {
        string model = ModelFile("m", withLineage: false);
        var (code, _, err) = await Task.Run(() => Models("alias", "--name", "nope", "--alias", "champion", "--version", "v9"));
        Assert.Equal(2, code);
        Assert.Equal($"marketintel models: {Target}: NotFound: model nope@v9 is not registered", err.Trim());
        (code, _, err) = Models("register", "--name", "direction", "--version", "v1", "--model", model, "--lineage", Path.Combine(Dir, "missing.json"));
        Assert.Equal(2, code);
        Assert.Contains("--lineage: file", err, StringComparison.Ordinal);
        (code, _, err) = Models("split", "--name", "direction", "--alias", "champion", "--version", "v1");
        Assert.Equal(2, code);
        Assert.Contains("--weight W", err, StringComparison.Ordinal);
        (code, _, err) = Run("models", "promote-everything", "--target", Target);
        Assert.Equal(2, code);
        Assert.Contains("models: unknown subcommand 'promote-everything'", err, StringComparison.Ordinal);
        File.WriteAllText(model + ".lineage.json", "{\"label\": {\"kind\": \"direction\", \"horizon\": 0}}");
        (code, _, err) = await Task.Run(() => Models("register", "--name", "direction", "--version", "v1", "--model", model));
        Assert.Equal(2, code);
        Assert.Contains("InvalidArgument: lineage of model direction@v1: field 'label.horizon'", err, StringComparison.Ordinal);
        Assert.Contains("no model is registered", (await Task.Run(() => Models("list"))).Out, StringComparison.Ordinal);
    }
}
