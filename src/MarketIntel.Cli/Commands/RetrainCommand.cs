using System.Globalization;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel retrain NAME</c>: starts a retraining job of a model name on a running grid and prints it; with
/// <c>--wait</c> follows it to its end (a progress bar on stderr when stderr is a terminal, a line per change
/// otherwise). <c>--list</c>, <c>--job ID</c> and <c>--cancel ID</c> read and cancel jobs. Over gRPC or HTTP, printed
/// the same either way. Exit codes: 0 for a job started, shown or cancelled, and for one followed to registered or
/// promoted; 1 for a start the debounce held back and for one followed to failed, cancelled or rejected; 2 for an
/// error; 130 when Ctrl-C stopped the following (the job goes on).
/// </summary>
internal static class RetrainCommand
{
    private const string Connection = "[--target grpc[s]://HOST:PORT|http[s]://HOST:PORT (default " + DefaultTarget + ")] [--api-key KEY] [--tls-ca CA.pem]";

    public const string Usage = "marketintel retrain NAME [--asset A]... [--spec S] [--label up_K] [--force] [--reason TEXT] [--wait] | NAME --list [--limit N] | NAME --job ID [--wait] | NAME --cancel ID  " + Connection;

    /// <summary>What <c>retrain --help</c> adds to the usage.</summary>
    public const string Details =
        "  retrain NAME                starts a job: the served version's lineage (assets, spec, label) unless --asset (repeat it), --spec or --label override it;\n" +
        "                              --force starts within the minimum interval after the last job; --reason goes into the job's record\n" +
        "  retrain NAME ... --wait     follows the job to its end: exit 0 registered or promoted, 1 failed, cancelled or rejected;\n" +
        "                              Ctrl-C stops following (exit 130) and leaves the job running: cancel it with --cancel ID\n" +
        "  retrain NAME --list         the model's jobs, newest first (--limit N, default 100)\n" +
        "  retrain NAME --job ID       one job (--wait follows it)\n" +
        "  retrain NAME --cancel ID    cancels a job and prints it\n" +
        "  a start the debounce holds back (one active job per model, a minimum interval) prints why and the active job, exit 1";

    /// <summary>The gRPC port <c>serve</c> listens on by default, on this machine.</summary>
    public const string DefaultTarget = "grpc://127.0.0.1:5081";

    /// <summary>Exit code for a job that ended without a registered challenger, or a start held back.</summary>
    public const int NotDone = 1;

    /// <summary>Exit code when Ctrl-C stopped the following (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    private static readonly string[] ConnectionOptions = ["target", "api-key", "tls-ca"];

    /// <param name="args">The arguments after <c>retrain</c>.</param>
    /// <param name="stdout">Where jobs are printed.</param>
    /// <param name="stderr">Where progress and a job's failure go.</param>
    /// <param name="progressBar">Whether stderr is a terminal: progress as a bar redrawn in place rather than a line per change.</param>
    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr, bool progressBar)
    {
        if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal))
        {
            throw new UsageException("retrain needs the model name first: marketintel retrain NAME [options] (try 'marketintel retrain --help')");
        }
        string name = args[0];
        CliArguments options = CliArguments.Parse(args[1..], [.. ConnectionOptions, "spec", "label", "reason", "limit", "job", "cancel"],
            ["force", "wait", "list"], repeatable: ["asset"]);
        string target = options.Optional("target") ?? DefaultTarget;
        string? job = options.Optional("job"), cancel = options.Optional("cancel");
        bool list = options.Flag("list"), wait = options.Flag("wait");
        if ((list ? 1 : 0) + (job is null ? 0 : 1) + (cancel is null ? 0 : 1) > 1)
        {
            throw new UsageException("retrain: give one of --list, --job ID or --cancel ID (or none, to start a job)");
        }
        bool start = !list && job is null && cancel is null;
        if (!start && (options.All("asset").Count > 0 || options.Optional("spec") is not null || options.Optional("label") is not null
            || options.Flag("force") || options.Optional("reason") is not null))
        {
            throw new UsageException("retrain: --asset, --spec, --label, --force and --reason go with starting a job, not with --list, --job or --cancel");
        }
        if (wait && (list || cancel is not null))
        {
            throw new UsageException("retrain: --wait follows a job started here or named by --job");
        }
        int limit = options.OptionalInt("limit", 1, 1000) ?? 0;
        if (!list && limit != 0)
        {
            throw new UsageException("retrain: --limit goes with --list");
        }

        using IRetrainClient client = RetrainClient.For(target, options);
        if (list)
        {
            PrintList(stdout, name, client.ListAsync(new ListRetrainJobsRequest { Name = name, Limit = limit }).GetAwaiter().GetResult());
            return 0;
        }
        if (cancel is not null)
        {
            RetrainJob cancelled = client.CancelAsync(new RetrainJobRequest { Name = name, Id = cancel }).GetAwaiter().GetResult();
            Print(stdout, cancelled);
            return 0;
        }
        RetrainJob shown;
        if (job is not null)
        {
            shown = client.GetAsync(new RetrainJobRequest { Name = name, Id = job }).GetAwaiter().GetResult();
        }
        else
        {
            var request = new StartRetrainRequest
            {
                Name = name,
                Spec = options.Optional("spec") ?? "",
                Label = options.Optional("label") ?? "",
                Force = options.Flag("force"),
                Reason = options.Optional("reason") ?? "",
            };
            request.Assets.AddRange(options.All("asset"));
            RetrainStartReply reply = client.StartAsync(request).GetAwaiter().GetResult();
            if (!reply.Started)
            {
                stdout.WriteLine($"not started: {reply.Reason}");
                if (reply.Job is { } active)
                {
                    Print(stdout, active);
                }
                return NotDone;
            }
            stdout.WriteLine($"started: {reply.Reason}");
            shown = reply.Job;
        }
        if (!wait)
        {
            Print(stdout, shown);
            return 0;
        }
        return Follow(client, name, shown, stdout, stderr, progressBar);
    }

    // Follows the job to its end. Ctrl-C only stops the following: cancelling a job is a decision of its own (--cancel).
    private static int Follow(IRetrainClient client, string name, RetrainJob job, TextWriter stdout, TextWriter stderr, bool progressBar)
    {
        using var stop = new CancellationTokenSource();
        void OnCancelKey(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            stop.Cancel();
        }
        Console.CancelKeyPress += OnCancelKey;
        RetrainJob last = job;
        var progress = new RetrainProgressView(stderr, progressBar);
        try
        {
            progress.Show(job);
            if (!RetrainClient.IsFinal(job.State))
            {
                Watch(client, new RetrainJobRequest { Name = name, Id = job.Id }, progress, j => last = j, stop.Token).GetAwaiter().GetResult();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            progress.End();
            stderr.WriteLine($"stopped following job {job.Id}; it goes on (marketintel retrain {name} --job {job.Id} [--wait] to look again, --cancel {job.Id} to cancel it)");
            return Interrupted;
        }
        finally
        {
            Console.CancelKeyPress -= OnCancelKey;
        }
        progress.End();
        Print(stdout, last);
        if (last.State is "registered" or "promoted")
        {
            return 0;
        }
        if (!RetrainClient.IsFinal(last.State))
        {
            throw new IOException($"the grid stopped sending job {last.Id} while it was {last.State}");
        }
        stderr.WriteLine($"marketintel retrain: job {last.Id} {last.State}: {last.Detail}");
        return NotDone;
    }

    private static async Task Watch(IRetrainClient client, RetrainJobRequest request, RetrainProgressView progress, Action<RetrainJob> seen, CancellationToken cancellationToken)
    {
        await foreach (RetrainJob job in client.WatchAsync(request, cancellationToken))
        {
            seen(job);
            progress.Show(job);
        }
    }

    /// <summary>A job as the command prints it: what it is, how far it got, what it made.</summary>
    public static void Print(TextWriter stdout, RetrainJob job)
    {
        stdout.WriteLine($"job {job.Id} of {job.Name}: {job.State}{(job.Detail.Length > 0 ? " - " + job.Detail : "")}");
        stdout.WriteLine($"  trigger {job.Trigger} by {job.Client}: {job.Reason}");
        stdout.WriteLine($"  assets {Or(string.Join(",", job.Assets))}; spec {Or(job.Spec)}; label {Or(job.Label)}{(job.Force ? "; forced" : "")}");
        stdout.WriteLine($"  progress {RetrainProgressView.Summary(job.Progress)}");
        stdout.WriteLine($"  base version {(job.BaseVersion.Length > 0 ? job.BaseVersion : "none")}, challenger {(job.Version.Length > 0 ? job.Version : "none")}, " +
            $"attempt {job.Attempt}{(job.Worker.Length > 0 ? " on " + job.Worker : "")}");
        stdout.WriteLine($"  created {Time(job.CreatedAt)}, updated {Time(job.UpdatedAt)}" + (job.FinishedAt != 0 ? $", finished {Time(job.FinishedAt)}" : "") +
            (job.Through != 0 ? $", bars through {Time(job.Through)}" : ""));
    }

    private static void PrintList(TextWriter stdout, string name, RetrainJobList list)
    {
        if (list.Jobs.Count == 0)
        {
            stdout.WriteLine($"{name} has no retraining job");
            return;
        }
        foreach (RetrainJob job in list.Jobs)
        {
            stdout.WriteLine($"{job.Id}  {job.State,-10}  {job.Trigger,-11}  created {Time(job.CreatedAt)}  challenger {(job.Version.Length > 0 ? job.Version : "-")}  {job.Detail}");
        }
    }

    // Empty overrides are "the served version's lineage's".
    private static string Or(string value) => value.Length > 0 ? value : "from the lineage";

    private static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>
/// A followed job's progress on stderr: on a terminal one line redrawn in place with a bar (walk-forward folds, then
/// the final model's rounds), elsewhere (a log, a pipe) one plain line per change.
/// </summary>
internal sealed class RetrainProgressView(TextWriter stderr, bool bar)
{
    private const int Width = 30;
    private int _drawn;

    public void Show(RetrainJob job)
    {
        if (!bar)
        {
            stderr.WriteLine($"{job.Id}: {job.State}: {Summary(job.Progress)}{(job.Detail.Length > 0 ? " - " + job.Detail : "")}");
            return;
        }
        int filled = (int)Math.Round(Fraction(job) * Width);
        string line = $"{job.State,-10} [{new string('#', filled)}{new string('.', Width - filled)}] {Summary(job.Progress)}";
        // Spaces cover what a longer line before left behind.
        stderr.Write("\r" + line + new string(' ', Math.Max(0, _drawn - line.Length)));
        stderr.Flush();
        _drawn = line.Length;
    }

    /// <summary>Ends the bar's line, so what follows starts on its own.</summary>
    public void End()
    {
        if (bar && _drawn > 0)
        {
            stderr.WriteLine();
            _drawn = 0;
        }
    }

    /// <summary>How far the job has got, 0 to 1: each fold validated and the final model weigh the same, the model by its rounds.</summary>
    public static double Fraction(RetrainJob job)
    {
        if (job.State is "registered" or "promoted" or "rejected")
        {
            return 1;
        }
        RetrainProgress p = job.Progress ?? new RetrainProgress();
        if (p.Folds == 0)
        {
            return 0;
        }
        double final = p.Rounds > 0 ? Math.Min(1.0, (double)p.RoundsDone / p.Rounds) : 0;
        return Math.Min(1.0, (Math.Min(p.FoldsDone, p.Folds) + final) / (p.Folds + 1));
    }

    /// <summary>Rows, folds, rounds and the validation scores in one line.</summary>
    public static string Summary(RetrainProgress? progress)
    {
        RetrainProgress p = progress ?? new RetrainProgress();
        string text = string.Create(CultureInfo.InvariantCulture, $"bars {p.BarsRead}, rows {p.Rows}, folds {p.FoldsDone}/{Known(p.Folds)}, rounds {p.RoundsDone}/{Known(p.Rounds)}");
        if (p.Validation.Count > 0)
        {
            text += "; validation " + string.Join(", ", p.Validation.OrderBy(v => v.Key, StringComparer.Ordinal)
                .Select(v => string.Create(CultureInfo.InvariantCulture, $"{v.Key} {v.Value:0.####}")));
        }
        return text;
    }

    private static string Known(int count) => count > 0 ? count.ToString(CultureInfo.InvariantCulture) : "?";
}
