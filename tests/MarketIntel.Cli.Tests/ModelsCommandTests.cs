using System.Text.RegularExpressions;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// <c>marketintel models</c> against a running grid over gRPC and over HTTP: register with the lineage found next to the
/// model and an alias, then list, show, move and remove aliases, tag, shadow, split, promote and profile, each verb
/// printing the same either way; each error is one line naming what is wrong, with exit code 2.
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

    // The grid's gRPC endpoint, or its HTTP one.
    private string Target(string scheme) => scheme switch
    {
        "grpc" => _grid!.GrpcTarget,
        "http" => _grid!.Http(""),
        _ => throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "grpc or http"),
    };

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

    private (int Code, string Out, string Err) Models(string scheme, params string[] args) => Run(["models", .. args, "--target", Target(scheme)]);

    [Theory]
    [InlineData("grpc")]
    [InlineData("http")]
    public async Task Register_with_the_lineage_beside_the_model_and_an_alias_then_list_show_tag_shadow_split_and_move(string scheme)
    {
        string v1 = ModelFile("m1", withLineage: true);
        string v2 = ModelFile("m2", withLineage: false);
        var (code, stdout, err) = await Task.Run(() => Models(scheme, "register", "--name", "direction", "--version", "v1", "--model", v1, "--alias", "champion"));
        Assert.True(code == 0, err);
        Assert.Contains("registered direction@v1", stdout, StringComparison.Ordinal);
        Assert.Contains($"label up_5, lineage from {v1}.lineage.json, alias champion", stdout, StringComparison.Ordinal);
        (code, stdout, err) = await Task.Run(() => Models(scheme, "register", "--name", "direction", "--version", "v2", "--model", v2));
        Assert.True(code == 0, err);
        Assert.Contains("label none, no lineage", stdout, StringComparison.Ordinal);

        Assert.Contains("direction: 2 version(s) (v1, v2); aliases champion -> v1; no shadows", (await Task.Run(() => Models(scheme, "list"))).Out, StringComparison.Ordinal);
        Assert.Contains("tags stage=candidate", (await Task.Run(() => Models(scheme, "tag", "--name", "direction", "--version", "v2", "--set", "stage=candidate"))).Out, StringComparison.Ordinal);
        Assert.Contains("shadows v2", (await Task.Run(() => Models(scheme, "shadow", "--name", "direction", "--version", "v2"))).Out, StringComparison.Ordinal);
        Assert.Contains("champion -> v1 (split: 0.2 to v2)", (await Task.Run(() => Models(scheme, "split", "--name", "direction", "--alias", "champion", "--version", "v2", "--weight", "0.2"))).Out, StringComparison.Ordinal);
        Assert.Contains("aliases champion -> v2; shadows v2", (await Task.Run(() => Models(scheme, "alias", "--name", "direction", "--alias", "champion", "--version", "v2"))).Out, StringComparison.Ordinal);

        (code, stdout, err) = await Task.Run(() => Models(scheme, "show", "--name", "direction"));
        Assert.True(code == 0, err);
        Assert.Contains("v1: xgboost, 8 features, label up_5, sha256 ", stdout, StringComparison.Ordinal);
        Assert.Contains("tags stage=candidate, no lineage", stdout, StringComparison.Ordinal);
        Assert.Contains("no aliases", (await Task.Run(() => Models(scheme, "alias", "--name", "direction", "--alias", "champion", "--remove"))).Out, StringComparison.Ordinal);
    }

    // The same changes to two model names, one over each scheme; every verb's output, with the name (and a registration's
    // time) set aside, is the same.
    [Fact]
    public async Task Every_verb_prints_the_same_over_http_as_over_grpc()
    {
        string v1 = ModelFile("same1", withLineage: true);
        string v2 = ModelFile("same2", withLineage: false);
        string matrix = MatrixFile(60);
        List<string> Verbs(string scheme)
        {
            string name = "over-" + scheme;
            string[][] verbs =
            [
                ["register", "--name", name, "--version", "v1", "--model", v1, "--alias", "champion"],
                ["register", "--name", name, "--version", "v2", "--model", v2],
                ["tag", "--name", name, "--version", "v2", "--set", "stage=candidate", "--set", "owner=desk"],
                ["tag", "--name", name, "--version", "v2", "--remove", "owner"],
                ["shadow", "--name", name, "--version", "v2"],
                ["split", "--name", name, "--alias", "champion", "--version", "v2", "--weight", "0.25"],
                ["split", "--name", name, "--alias", "champion", "--end"],
                ["alias", "--name", name, "--alias", "canary", "--version", "v1"],
                ["profile", "--name", name, "--version", "v2", "--matrix", matrix, "--bins", "4"],
                ["promote", name, "--challenger", "v2"],
                ["promote", name, "--challenger", "v2", "--alias", "canary", "--json"],
                ["show", "--name", name],
                ["shadow", "--name", name, "--version", "v2", "--remove"],
                ["alias", "--name", name, "--alias", "canary", "--remove"],
                ["show", "--name", name],
            ];
            return [.. verbs.Select(args =>
            {
                var (code, stdout, err) = Models(scheme, args);
                Assert.True(code == 0, $"{scheme} {string.Join(' ', args)}: {err}");
                // The decision's time and each version's registration time are the moments the calls ran.
                string same = Regex.Replace(stdout.Replace(name, "NAME", StringComparison.Ordinal), "created [^,]+,", "created T,");
                return Regex.Replace(same, "\"decidedAt\": \"[^\"]+\"", "\"decidedAt\": T");
            })];
        }
        List<string> overGrpc = await Task.Run(() => Verbs("grpc"));
        List<string> overHttp = await Task.Run(() => Verbs("http"));
        Assert.True(overGrpc.SequenceEqual(overHttp), string.Join("\n", overGrpc.Zip(overHttp).Where(p => p.First != p.Second).Select(p => $"grpc: {p.First}http: {p.Second}")));
        // What the comparison rests on: each verb printed what it did.
        Assert.Contains("label up_5, lineage from", overGrpc[0], StringComparison.Ordinal);
        Assert.Contains("tags stage=candidate", overGrpc[3], StringComparison.Ordinal);
        Assert.DoesNotContain("owner", overGrpc[3], StringComparison.Ordinal);
        Assert.Contains("champion -> v1 (split: 0.25 to v2)", overGrpc[5], StringComparison.Ordinal);
        Assert.Contains("NAME: v2 not promoted to champion (was v1) on 0 paired outcomes", overGrpc[9], StringComparison.Ordinal);
        Assert.Contains("\"statistics\": { \"minPairs\": 500, \"pairs\": 0 }", overGrpc[10], StringComparison.Ordinal);
        Assert.Contains("v2: xgboost, 8 features, label none, sha256 ", overGrpc[11], StringComparison.Ordinal);
        Assert.Contains("reference profile", overGrpc[11], StringComparison.Ordinal);
        Assert.Contains("NAME: aliases champion -> v1; no shadows", overGrpc[14], StringComparison.Ordinal);

        string[] list = [.. new[] { "grpc", "http" }.Select(scheme => Models(scheme, "list")).Select(r => r.Code == 0 ? r.Out : r.Err)];
        Assert.Equal(list[0], list[1]);
        Assert.Contains("over-http: 2 version(s) (v1, v2); aliases champion -> v1; no shadows", list[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("grpc", "NotFound")]
    [InlineData("http", "404")]
    public async Task Errors_are_one_line_naming_what_is_wrong_and_exit_2(string scheme, string status)
    {
        string model = ModelFile("m", withLineage: false);
        var (code, _, err) = await Task.Run(() => Models(scheme, "alias", "--name", "nope", "--alias", "champion", "--version", "v9"));
        Assert.Equal(2, code);
        Assert.Equal($"marketintel models: {Target(scheme)}: {status}: model nope@v9 is not registered", err.Trim());
        (code, _, err) = Models(scheme, "register", "--name", "direction", "--version", "v1", "--model", model, "--lineage", Path.Combine(Dir, "missing.json"));
        Assert.Equal(2, code);
        Assert.Contains("--lineage: file", err, StringComparison.Ordinal);
        (code, _, err) = Models(scheme, "split", "--name", "direction", "--alias", "champion", "--version", "v1");
        Assert.Equal(2, code);
        Assert.Contains("--weight W", err, StringComparison.Ordinal);
        (code, _, err) = Run("models", "promote-everything", "--target", Target(scheme));
        Assert.Equal(2, code);
        Assert.Contains("models: unknown subcommand 'promote-everything'", err, StringComparison.Ordinal);
        File.WriteAllText(model + ".lineage.json", "{\"label\": {\"kind\": \"direction\", \"horizon\": 0}}");
        (code, _, err) = await Task.Run(() => Models(scheme, "register", "--name", "direction", "--version", "v1", "--model", model));
        Assert.Equal(2, code);
        // Checked before anything is sent (over HTTP the model and its lineage are two calls): nothing is registered.
        Assert.StartsWith($"marketintel models: --lineage {model}.lineage.json: lineage of model direction@v1: field 'label.horizon'", err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("no model is registered", (await Task.Run(() => Models(scheme, "list"))).Out, StringComparison.Ordinal);
    }

    // A feature-matrix CSV of the fixture model's eight features.
    private string MatrixFile(int rows)
    {
        var random = new Random(9);
        string path = Path.Combine(Dir, "matrix.csv");
        File.WriteAllLines(path, [string.Join(",", Enumerable.Range(0, 8).Select(i => $"x{i}")),
            .. Enumerable.Range(0, rows).Select(_ => string.Join(",", Enumerable.Range(0, 8).Select(_ => random.NextDouble().ToString("0.####", System.Globalization.CultureInfo.InvariantCulture))))]);
        return path;
    }

    [Theory]
    [InlineData("grpc", "FailedPrecondition")]
    [InlineData("http", "409")]
    public async Task Profile_gives_a_version_its_reference_from_a_matrix_or_a_file_and_show_says_which_versions_have_one(string scheme, string status)
    {
        Assert.Equal(0, (await Task.Run(() => Models(scheme, "register", "--name", "drift", "--version", "v1", "--model", ModelFile("p1", withLineage: false)))).Code);
        Assert.Equal(0, (await Task.Run(() => Models(scheme, "register", "--name", "drift", "--version", "v2", "--model", ModelFile("p2", withLineage: false)))).Code);
        Assert.Equal(2, Regex.Count((await Task.Run(() => Models(scheme, "show", "--name", "drift"))).Out, "no lineage, no reference profile"));

        string matrix = MatrixFile(120);
        var (code, stdout, err) = await Task.Run(() => Models(scheme, "profile", "--name", "drift", "--version", "v1", "--matrix", matrix, "--bins", "5"));
        Assert.True(code == 0, err);
        Assert.Contains($"drift@v1: reference profile set from {matrix}", stdout, StringComparison.Ordinal);

        // The profile the grid built, written to a file and given to the other version as it is.
        using var http = new HttpClient();
        string profile = await http.GetStringAsync(_grid!.Http("/models/drift/versions/v1/profile"));
        var built = MarketIntel.Training.Drift.ReferenceProfile.Parse(profile);
        Assert.Equal(120, built.Rows);
        Assert.All(built.Features, f => Assert.InRange(f.Bins, 2, 5));
        string file = Path.Combine(Dir, "profile.json");
        File.WriteAllText(file, profile);
        (code, stdout, err) = await Task.Run(() => Models(scheme, "profile", "--name", "drift", "--version", "v2", "--profile", file));
        Assert.True(code == 0, err);
        Assert.Equal(profile, await http.GetStringAsync(_grid!.Http("/models/drift/versions/v2/profile")));
        Assert.Equal(2, Regex.Count((await Task.Run(() => Models(scheme, "show", "--name", "drift"))).Out, "no lineage, reference profile"));

        // Set once: another one is refused by the grid, in one line.
        (code, _, err) = await Task.Run(() => Models(scheme, "profile", "--name", "drift", "--version", "v2", "--matrix", MatrixFile(30)));
        Assert.Equal(2, code);
        Assert.Equal($"marketintel models: {Target(scheme)}: {status}: model drift@v2 has another reference profile already (it was given one); a version's profile is set once", err.Trim());
    }

    [Theory]
    [InlineData("", "give one of --profile FILE.json, --matrix FILE.csv or --assets A,B")]
    [InlineData("--assets|A|--matrix|m.csv", "give one of --profile FILE.json, --matrix FILE.csv or --assets A,B")]
    [InlineData("--matrix|missing.csv", "--matrix: file 'missing.csv' does not exist")]
    [InlineData("--matrix|m.csv|--from|2024-01-01", "--from and --to go with --assets")]
    [InlineData("--assets|A|--from|yesterday", "option '--from': 'yesterday' is neither Unix milliseconds nor a date")]
    [InlineData("--assets|A|--from|2024-02-01|--to|2024-01-01", "--from 2024-02-01 is after --to 2024-01-01")]
    [InlineData("--assets|A|--bins|0", "--bins")]
    [InlineData("--assets|EURUSD", "FailedPrecondition: this grid keeps no bar archive")]
    [InlineData("--assets|EURUSD|--from|2024-01-01|--bins|5", "this grid keeps no bar archive", "http")]
    public async Task Profile_errors_are_one_line_naming_what_is_wrong_and_exit_2(string args, string message, string scheme = "grpc")
    {
        Assert.Equal(0, (await Task.Run(() => Models(scheme, "register", "--name", "drift", "--version", "v1", "--model", ModelFile("e1", withLineage: false)))).Code);
        var (code, _, err) = await Task.Run(() => Models(scheme, ["profile", "--name", "drift", "--version", "v1", .. args.Split('|', StringSplitOptions.RemoveEmptyEntries)]));
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("no reference profile", (await Task.Run(() => Models(scheme, "show", "--name", "drift"))).Out, StringComparison.Ordinal);
    }
}
