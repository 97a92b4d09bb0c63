using System.Text.RegularExpressions;
using MarketIntel.Api.V1;
using MarketIntel.Cli.Commands;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// <c>marketintel retrain</c> against a running grid over gRPC and over HTTP. The grid's only silo serves, so a job
/// waits for a worker (and says so) until it is cancelled: every verb prints the same either way, <c>--wait</c> follows
/// a job to its end and exits 1 when it was cancelled, a start the debounce holds back exits 1 with the reason and the
/// active job, and each error is one line with exit code 2.
/// </summary>
public sealed partial class RetrainCommandTests : CliTestBase, IAsyncLifetime
{
    private InProcessGrid? _grid;
    private string _admin = "";
    private string _reader = "";

    // Keys made before the grid starts: an admin that every verb below uses, and a reader.
    public async Task InitializeAsync()
    {
        string keys = Path.Combine(Dir, "keys.json");
        _admin = Key(keys, "ops", "admin");
        _reader = Key(keys, "quant", "reader");
        _grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["MarketIntel:Role"] = "serving",
            ["Auth:KeysFile"] = keys,
        });
    }

    public async Task DisposeAsync()
    {
        if (_grid is not null)
        {
            await _grid.DisposeAsync();
        }
    }

    private string Target(string scheme) => scheme == "grpc" ? _grid!.GrpcTarget : _grid!.Http("");

    private static string Key(string file, string name, string role)
    {
        var (code, key, err) = Run("keys", "create", "--file", file, "--name", name, "--role", role);
        Assert.True(code == 0, err);
        return key.Trim();
    }

    private (int Code, string Out, string Err) Retrain(string scheme, params string[] args) => Run(["retrain", .. args, "--target", Target(scheme), "--api-key", _admin]);

    private string Register(string scheme)
    {
        string name = $"{scheme}-{Guid.NewGuid():N}"[..20];
        string model = Path.Combine(Dir, name + ".json");
        File.Copy(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"), model);
        var (code, _, err) = Run("models", "register", "--name", name, "--version", "v1", "--model", model, "--alias", "champion", "--target", Target(scheme), "--api-key", _admin);
        Assert.True(code == 0, err);
        return name;
    }

    private static string JobId(string stdout) => JobLine().Match(stdout) is { Success: true } m ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException("no job in: " + stdout);

    // The same verbs on two model names, one over each scheme; with the name, the job ids and the times set aside, every
    // verb prints the same.
    [Fact]
    public async Task Every_verb_prints_the_same_over_http_as_over_grpc()
    {
        List<string> Verbs(string scheme)
        {
            string name = Register(scheme);
            var outputs = new List<string>();
            string Verb(int expected, params string[] args)
            {
                var (code, stdout, err) = Retrain(scheme, args);
                Assert.True(code == expected, $"{scheme} {string.Join(' ', args)}: exit {code}: {err}{stdout}");
                outputs.Add(Normal(stdout.Replace(name, "NAME", StringComparison.Ordinal)));
                return stdout;
            }
            string id = JobId(Verb(0, name, "--asset", "MSFT", "--asset", "EURUSD", "--label", "up_3", "--spec", "rsi_14,roc_5", "--reason", "new quarter"));
            Verb(0, name, "--job", id);
            Verb(0, name, "--list");
            Verb(1, name);
            Verb(0, name, "--cancel", id);
            Verb(1, name, "--reason", "too soon");
            string second = JobId(Verb(0, name, "--force"));
            Verb(0, name, "--list", "--limit", "1");
            Verb(0, name, "--cancel", second);
            Verb(0, name, "--list");
            return outputs;
        }
        List<string> overGrpc = await Task.Run(() => Verbs("grpc"));
        List<string> overHttp = await Task.Run(() => Verbs("http"));
        Assert.True(overGrpc.SequenceEqual(overHttp), string.Join("\n", overGrpc.Zip(overHttp).Where(p => p.First != p.Second).Select(p => $"grpc: {p.First}http: {p.Second}")));
        // What the comparison rests on: each verb printed what it did.
        Assert.Contains("started: job ID started", overGrpc[0], StringComparison.Ordinal);
        Assert.Contains("job ID of NAME: waiting - no worker silo", overGrpc[0], StringComparison.Ordinal);
        Assert.Contains("trigger manual by ops: new quarter", overGrpc[0], StringComparison.Ordinal);
        Assert.Contains("assets MSFT,EURUSD; spec rsi_14,roc_5; label up_3", overGrpc[0], StringComparison.Ordinal);
        Assert.Contains("progress bars 0, rows 0, folds 0/?, rounds 0/?", overGrpc[1], StringComparison.Ordinal);
        Assert.Matches(@"^ID  waiting     manual       created T  challenger -  no worker silo", overGrpc[2]);
        Assert.Contains("not started: job ID of model 'NAME' is waiting", overGrpc[3], StringComparison.Ordinal);
        Assert.Contains("job ID of NAME: cancelled - cancelled by ops while waiting", overGrpc[4], StringComparison.Ordinal);
        Assert.Contains("minimum interval", overGrpc[5], StringComparison.Ordinal);
        Assert.Contains("assets from the lineage; spec from the lineage; label from the lineage; forced", overGrpc[6], StringComparison.Ordinal);
        Assert.Single(overGrpc[7].Trim().Split('\n'));
        Assert.Equal(2, overGrpc[9].Trim().Split('\n').Length);
    }

    // Job ids (32 hex digits) and times differ between the two runs.
    private static string Normal(string text) => Times().Replace(Ids().Replace(text, "ID"), "T");

    [Theory]
    [InlineData("grpc")]
    [InlineData("http")]
    public async Task Wait_follows_a_job_to_its_end_and_a_cancelled_job_exits_1_with_its_detail(string scheme)
    {
        string name = Register(scheme);
        Task<(int Code, string Out, string Err)> following = Task.Run(() => Retrain(scheme, name, "--wait"));
        // Another client cancels the job while the first follows it.
        string? id = null;
        while (id is null && !following.IsCompleted)
        {
            var (_, list, _) = Retrain(scheme, name, "--list");
            id = Ids().Match(list) is { Success: true } m ? m.Value : null;
            await Task.Delay(100);
        }
        Assert.NotNull(id);
        Assert.Equal(0, Retrain(scheme, name, "--cancel", id).Code);
        var (code, stdout, err) = await following;
        Assert.True(code == RetrainCommand.NotDone, $"exit {code}: {err}");
        Assert.Contains($"job {id} of {name}: cancelled - cancelled by ops while waiting", stdout, StringComparison.Ordinal);
        // stderr is no terminal here: a line per change, then the end and why.
        Assert.Contains($"{id}: waiting: bars 0, rows 0, folds 0/?, rounds 0/? - no worker silo", err, StringComparison.Ordinal);
        Assert.Contains($"{id}: cancelled: ", err, StringComparison.Ordinal);
        Assert.Contains($"marketintel retrain: job {id} cancelled: cancelled by ops while waiting", err, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", err, StringComparison.Ordinal);

        // --job ID --wait on a final job prints it and exits as it ended.
        var again = Retrain(scheme, name, "--job", id, "--wait");
        Assert.Equal(RetrainCommand.NotDone, again.Code);
        Assert.Contains($"job {id} of {name}: cancelled", again.Out, StringComparison.Ordinal);
    }

    // Ctrl-C (SIGINT) while following: the command stops following, says how to look again or cancel, exits 130, and
    // the job goes on. Run as a process of its own, since the signal reaches a whole process.
    [Theory]
    [InlineData("grpc")]
    [InlineData("http")]
    public async Task Ctrl_c_while_waiting_stops_following_and_leaves_the_job_running(string scheme)
    {
        string name = Register(scheme);
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "marketintel.dll"), "retrain", name, "--wait", "--target", Target(scheme), "--api-key", _admin },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        using var cli = System.Diagnostics.Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        Task<string> stdout = cli.StandardOutput.ReadToEndAsync(timeout.Token);
        var err = new System.Text.StringBuilder();
        string? line;
        while ((line = await cli.StandardError.ReadLineAsync(timeout.Token)) is not null && !line.Contains(": waiting: ", StringComparison.Ordinal))
        {
            err.AppendLine(line);
        }
        Assert.True(line is not null, "no progress line before the command ended: " + err);
        string id = Ids().Match(line).Value;
        using (var signal = System.Diagnostics.Process.Start("kill", ["-INT", cli.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await signal.WaitForExitAsync(timeout.Token);
        }
        string rest = await cli.StandardError.ReadToEndAsync(timeout.Token);
        await cli.WaitForExitAsync(timeout.Token);
        Assert.True(cli.ExitCode == RetrainCommand.Interrupted, $"exit {cli.ExitCode}: {err}{rest}");
        Assert.Contains($"stopped following job {id}; it goes on (marketintel retrain {name} --job {id} [--wait] to look again, --cancel {id} to cancel it)", rest, StringComparison.Ordinal);
        Assert.Contains("started: job " + id, await stdout, StringComparison.Ordinal);
        Assert.Contains($"job {id} of {name}: waiting", Retrain(scheme, name, "--job", id).Out, StringComparison.Ordinal);
        Assert.Equal(0, Retrain(scheme, name, "--cancel", id).Code);
    }

    [Theory]
    [InlineData("grpc", "NotFound: model 'no-such-model' has no registered version", "NotFound: model 'NAME' has no retraining job '0123456789abcdef'")]
    [InlineData("http", "404: model 'no-such-model' has no registered version", "404: model 'NAME' has no retraining job '0123456789abcdef'")]
    public void An_unknown_model_or_job_is_one_line_with_exit_code_2(string scheme, string unknownModel, string unknownJob)
    {
        string name = Register(scheme);
        var (code, _, err) = Retrain(scheme, "no-such-model");
        Assert.Equal(2, code);
        Assert.Contains(unknownModel, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
        (code, _, err) = Retrain(scheme, name, "--cancel", "0123456789abcdef");
        Assert.Equal(2, code);
        Assert.Contains(unknownJob.Replace("NAME", name, StringComparison.Ordinal), err, StringComparison.Ordinal);
        (code, _, err) = Retrain(scheme, name, "--asset", "A B");
        Assert.Equal(2, code);
        Assert.Contains("assets[0]: ", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("grpc", "PermissionDenied: key 'quant' has role reader; /marketintel.v1.Retrain/Start needs admin", "Unauthenticated")]
    [InlineData("http", "403: key 'quant' has role reader;", "401: ")]
    public void A_reader_key_reads_jobs_but_cannot_start_or_cancel_one_and_no_key_reads_nothing(string scheme, string denied, string unauthenticated)
    {
        string name = Register(scheme);
        string id = JobId(Retrain(scheme, name).Out);
        var start = Run("retrain", name, "--force", "--target", Target(scheme), "--api-key", _reader);
        Assert.Equal(2, start.Code);
        Assert.Contains(denied, start.Err, StringComparison.Ordinal);
        Assert.Contains("needs admin", start.Err, StringComparison.Ordinal);
        var cancel = Run("retrain", name, "--cancel", id, "--target", Target(scheme), "--api-key", _reader);
        Assert.Equal(2, cancel.Code);
        Assert.Contains("needs admin", cancel.Err, StringComparison.Ordinal);
        var list = Run("retrain", name, "--list", "--target", Target(scheme), "--api-key", _reader);
        Assert.True(list.Code == 0, list.Err);
        Assert.Contains(id + "  waiting", list.Out, StringComparison.Ordinal);
        var none = Run("retrain", name, "--job", id, "--target", Target(scheme));
        Assert.Equal(2, none.Code);
        Assert.Contains(unauthenticated, none.Err, StringComparison.Ordinal);
        Assert.Equal(0, Retrain(scheme, name, "--cancel", id).Code);
    }

    [Theory]
    [InlineData(new[] { "retrain" }, "retrain needs the model name first")]
    [InlineData(new[] { "retrain", "--list" }, "retrain needs the model name first")]
    [InlineData(new[] { "retrain", "m", "--list", "--cancel", "x" }, "give one of --list, --job ID or --cancel ID")]
    [InlineData(new[] { "retrain", "m", "--job", "x", "--force" }, "--asset, --spec, --label, --force and --reason go with starting a job")]
    [InlineData(new[] { "retrain", "m", "--cancel", "x", "--wait" }, "--wait follows a job started here or named by --job")]
    [InlineData(new[] { "retrain", "m", "--limit", "5" }, "--limit goes with --list")]
    [InlineData(new[] { "retrain", "m", "--list", "--limit", "0" }, "option '--limit': '0' is not a whole number from 1 to 1000")]
    [InlineData(new[] { "retrain", "m", "--target", "ftp://x" }, "--target 'ftp://x'")]
    public void Mistakes_in_the_command_line_are_named_in_one_line_with_exit_code_2(string[] args, string message)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void On_a_terminal_progress_is_one_bar_redrawn_in_place_folds_then_rounds()
    {
        var job = new RetrainJob { Id = "j1", Name = "m", State = "running", Progress = new RetrainProgress { BarsRead = 5000, Rows = 4900, FoldsDone = 2, Folds = 4, RoundsDone = 50, Rounds = 100 } };
        job.Progress.Validation["auc"] = 0.61234;
        // Two folds of four and half the final model: 2.5 of 5 parts.
        Assert.Equal(0.5, RetrainProgressView.Fraction(job), 12);
        var stderr = new StringWriter();
        var view = new RetrainProgressView(stderr, bar: true);
        view.Show(job);
        RetrainJob done = job.Clone();
        done.State = "registered";
        done.Progress.Validation.Clear();
        view.Show(done);
        view.End();
        string text = stderr.ToString();
        Assert.Equal(2, text.Count(c => c == '\r'));
        Assert.Contains("running    [" + new string('#', 15) + new string('.', 15) + "] bars 5000, rows 4900, folds 2/4, rounds 50/100; validation auc 0.6123", text, StringComparison.Ordinal);
        Assert.Contains("registered [" + new string('#', 30) + "]", text, StringComparison.Ordinal);
        // The shorter second line covers the first one's end, and the bar's line ends once.
        string last = text.Split('\r')[^1];
        Assert.Equal(text.Split('\r')[1].Length, last.TrimEnd('\n').Length);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'), line => line.Length > 0);
    }

    [GeneratedRegex(@"job ([0-9a-f]{32}) of ")]
    private static partial Regex JobLine();

    [GeneratedRegex(@"[0-9a-f]{32}")]
    private static partial Regex Ids();

    [GeneratedRegex(@"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?")]
    private static partial Regex Times();
}
