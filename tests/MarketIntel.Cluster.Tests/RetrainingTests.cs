using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Server.Tests;
using Xunit.Abstractions;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// Automated retraining end to end (issue 22) with real silo processes (<c>--role serving</c>, <c>--role worker</c>),
/// real PostgreSQL and Redis, over gRPC and HTTP: a drift shift in the bars retrains the model on the worker and the
/// gate promotes the challenger while clients predict without a failure; asset grains never activate on a worker; a
/// job with no worker waits and says why, runs once workers join, and finishes on the second worker when the first is
/// killed under it, registering one version.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class RetrainingTests(ITestOutputHelper output) : IDisposable
{
    private const int Assets = 4;
    private const int MinPairs = 200;
    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _silos = [];

    // Short intervals, so that the whole loop runs in a minute or two on a loaded 2-core machine.
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Grid__Drift__Window"] = "100",
        ["Grid__Drift__FlushInterval"] = "00:00:01",
        ["Grid__Drift__EvaluateEveryBars"] = "50",
        ["Grid__Scoring__FlushInterval"] = "00:00:00.5",
        ["Grid__Promotion__CheckInterval"] = "00:00:01",
        ["Grid__Promotion__MinPairs"] = $"{MinPairs}",
        ["Grid__Retraining__CheckInterval"] = "00:00:01",
    };

    private static string Symbol(int asset) => $"R{asset}";

    private static readonly string[] Symbols = [.. Enumerable.Range(0, Assets).Select(Symbol)];

    private SiloProcess Start(string name, string database, string role)
    {
        var silo = SiloProcess.Start(name, _servers.Redis.Endpoint, database, Settings, "--role", role);
        _silos.Add(silo);
        return silo;
    }

    private static async Task Ingest(SiloProcess silo, int asset, IEnumerable<Bar> bars)
    {
        var request = new IngestBarsRequest { Asset = Symbol(asset), Bars = { bars } };
        IngestBarsReply reply = await silo.Ingest(request);
        Assert.Equal(request.Bars.Count, reply.Accepted);
    }

    private static async Task<double> ActiveAssets(SiloProcess silo) => (await Metrics(silo)).Value("marketintel_active_assets");

    private static async Task<Scrape> Metrics(SiloProcess silo)
    {
        using var http = new HttpClient();
        return await Scrape.From(http, $"http://127.0.0.1:{silo.HttpPort}/metrics");
    }

    // No asset grain ever lived on the silo: none holds data now, and the counters only asset grains move (bars taken,
    // predictions made, activations that replayed the archive) never moved.
    private static async Task AssertNoAssetGrainEver(SiloProcess silo)
    {
        Scrape metrics = await Metrics(silo);
        foreach (string counter in new[] { "marketintel_active_assets", "marketintel_bars_accepted_total", "marketintel_predictions_total", "marketintel_asset_replays_total" })
        {
            Assert.NotNull(metrics.Type(counter));  // published, so a zero is a count and not a missing metric
            double total = metrics.Samples(counter).Sum(s => s.Value);
            Assert.True(total == 0, $"{silo.Name}: {counter} {total}");
        }
    }

    private static string State(JsonElement job) => job.GetProperty("state").GetString()!;

    // Waits (polling every 250 ms) until the job satisfies `done`. Every read must answer, except, where
    // `unavailable` counts them, 503s: while a killed silo is not yet declared dead, a call whose grain directory entry
    // it held fails as UNAVAILABLE, which clients retry (GrainRetry says so). Reads of a job never wait for
    // the coordinator's check of a worker (RetrainWorkerTests holds a worker's check on purpose to show that).
    private static async Task<JsonElement> Until(Func<Task<JsonElement?>> read, Func<JsonElement, bool> done, TimeSpan timeout, string what, Func<string> logs,
        List<string>? unavailable = null)
    {
        var clock = Stopwatch.StartNew();
        JsonElement? last = null;
        while (clock.Elapsed < timeout)
        {
            try
            {
                last = await read();
            }
            catch (HttpRequestException e) when (unavailable is not null && e.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
            {
                unavailable.Add($"{clock.Elapsed.TotalSeconds:0.0} s: {e.Message}");
                await Task.Delay(250);
                continue;
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"{what}: a read failed after {clock.Elapsed.TotalSeconds:0.0} s; last answer: {last}\n{logs()}", e);
            }
            if (last is { } job && done(job))
            {
                return job;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{what} not within {timeout.TotalSeconds} s; last: {last}\n{logs()}");
    }

    [Fact]
    public async Task A_drift_shift_retrains_on_the_worker_and_the_gate_promotes_the_challenger_with_no_failed_prediction_and_no_asset_grain_on_the_worker()
    {
        // Enough trending bars for several minutes at the feed's pace: the feed stops once the challenger is promoted.
        const int Calm = 400, Trending = 20_000, Step = 5;
        string database = _servers.MigratedDatabase("retrain_drift");
        var serving = Start("serving", database, "serving");
        var worker = Start("worker", database, "worker");
        await Task.WhenAll(serving.WaitReady(TimeSpan.FromSeconds(120)), worker.WaitReady(TimeSpan.FromSeconds(120)));
        string Logs() => $"--- serving:\n{serving.Output}\n--- worker:\n{worker.Output}";
        using var grid = new RetrainGrid(serving);
        var bars = Enumerable.Range(0, Assets).Select(a => RetrainGrid.Bars(a, Calm, Trending)).ToArray();

        // The champion learns its reference from the calm walk.
        await grid.RegisterChampion(Symbols, autoPromote: true);
        await Task.WhenAll(Enumerable.Range(0, Assets).Select(a => Ingest(serving, a, bars[a].Take(Calm))));
        await grid.ProfileChampion(Symbols, bars[0][Calm - 1].Timestamp);

        // A steady predict load on every asset for the whole loop: every call must answer.
        using var stop = new CancellationTokenSource();
        long predictions = 0, failures = 0;
        var errors = new List<string>();
        Task load = Task.WhenAll(Enumerable.Range(0, Assets).Select(async a =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var reply = await serving.Client.PredictAsync(new PredictRequest { Asset = Symbol(a) }, deadline: DateTime.UtcNow.AddSeconds(10));
                    Assert.NotEmpty(reply.Values);
                    Interlocked.Increment(ref predictions);
                }
                catch (RpcException e)
                {
                    Interlocked.Increment(ref failures);
                    lock (errors)
                    {
                        errors.Add($"{Symbol(a)}: {e.Status}");
                    }
                }
                await Task.Delay(20);
            }
        }));

        // The shift: trending bars, a few per call, until the challenger is promoted (or the bars run out).
        var clock = Stopwatch.StartNew();
        int sent = Calm;
        Task feed = Task.Run(async () =>
        {
            for (; sent + Step <= Calm + Trending && !stop.IsCancellationRequested; sent += Step)
            {
                int from = sent;
                await Task.WhenAll(Enumerable.Range(0, Assets).Select(a => Ingest(serving, a, bars[a].Skip(from).Take(Step))));
                await Task.Delay(50);
            }
        });
        TimeSpan? jobSeen = null;
        JsonElement promoted;
        try
        {
            promoted = await Until(async () =>
            {
                Assert.False(feed.IsFaulted, $"ingest failed: {feed.Exception}");
                JsonElement[] jobs = await grid.Jobs();
                jobSeen ??= jobs.Length > 0 ? clock.Elapsed : null;
                return jobs.Length > 0 ? jobs[0] : null;
            }, job => State(job) == "promoted" || State(job) is "failed" or "rejected" or "cancelled", TimeSpan.FromMinutes(3), "a promoted challenger", Logs);
        }
        finally
        {
            stop.Cancel();
        }
        TimeSpan elapsed = clock.Elapsed;
        await Task.WhenAll(load, feed);
        output.WriteLine($"drift to job: {jobSeen?.TotalSeconds:0.0} s; drift to promoted: {elapsed.TotalSeconds:0.0} s; " +
            $"trending bars per asset sent: {sent - Calm}; predictions: {predictions}, failed: {failures}");
        Assert.True(State(promoted) == "promoted", $"{promoted}\n{Logs()}");

        // One job, asked for by the drift alarm (the other assets' alarms were held back by the one-job rule), on the worker.
        JsonElement[] all = await grid.Jobs();
        Assert.Single(all);
        Assert.Equal("drift", promoted.GetProperty("trigger").GetString());
        Assert.Contains("series drifting", promoted.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(RetrainGrid.Champion, promoted.GetProperty("baseVersion").GetString());
        Assert.Contains($":{worker.Ports[2]}:", promoted.GetProperty("worker").GetString(), StringComparison.Ordinal);
        Assert.True(promoted.GetProperty("progress").GetProperty("rows").GetInt32() > Assets * Calm / 2, promoted.ToString());

        // The challenger: tagged with the job, its lineage replacing the champion with a reference profile, now served.
        string challenger = promoted.GetProperty("version").GetString()!;
        JsonElement registry = await grid.Registry();
        JsonElement version = registry.GetProperty("versions").EnumerateArray().Single(v => v.GetProperty("version").GetString() == challenger);
        Assert.Equal(promoted.GetProperty("id").GetString(), version.GetProperty("tags").GetProperty("retrain.job").GetString());
        Assert.True(version.GetProperty("hasProfile").GetBoolean(), version.ToString());
        JsonElement lineage = version.GetProperty("lineage");
        Assert.Equal(RetrainGrid.Champion, lineage.GetProperty("replaces").GetString());
        Assert.Equal("up_1", lineage.GetProperty("label").GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Object, lineage.GetProperty("profile").ValueKind);
        Assert.Equal(challenger, registry.GetProperty("aliases").GetProperty("champion").GetProperty("version").GetString());
        // Shadow-scored beside the champion on enough pairs for the gate, and promoted by the automatic policy.
        Assert.True(await grid.Pairs(challenger) >= MinPairs, $"pairs of {challenger}: {await grid.Pairs(challenger)}");
        Assert.Contains(await grid.Audit(), r => r.GetProperty("version").GetString() == challenger && r.GetProperty("client").GetString() == "auto-promote");

        // No prediction failed at any point, and the asset grains all lived on the serving silo.
        Assert.True(failures == 0, $"{failures} of {predictions + failures} predictions failed: {string.Join("; ", errors.Distinct().Take(5))}");
        Assert.True(predictions > 100, $"only {predictions} predictions");
        Assert.Equal(Assets, await ActiveAssets(serving));
        await AssertNoAssetGrainEver(worker);
    }

    [Fact]
    public async Task A_job_with_no_worker_waits_saying_why_runs_once_workers_join_and_finishes_on_the_second_when_the_first_is_killed_registering_one_version()
    {
        const int Bars = 3000;
        string database = _servers.MigratedDatabase("retrain_crash");
        var serving = Start("serving", database, "serving");
        await serving.WaitReady(TimeSpan.FromSeconds(120));
        using var grid = new RetrainGrid(serving);
        // 12,000 rows of twelve inputs, deep trees and many rounds: seconds of training even on an idle machine, so that
        // the job is still training when it is seen to have started.
        await grid.RegisterChampion(Symbols, autoPromote: false, parameters: """{"rounds": 1500, "maxDepth": 6, "eta": 0.01}""",
            features: ["sma_10", "ema_10", "rsi_14", "atr_14", "roc_10", "zscore_20", "bbpctb_20_2", "logretsd_20", "cci_20", "wpr_14", "mfi_14", "stochk_14_3"]);
        await Task.WhenAll(Enumerable.Range(0, Assets).Select(async a =>
        {
            var bars = RetrainGrid.Bars(a, Bars, 0);
            await Ingest(serving, a, bars.Take(Bars / 2));
            await Ingest(serving, a, bars.Skip(Bars / 2));
        }));

        // No worker: the job waits, saying so, and stays off the serving silo.
        string id = await grid.StartJob(Symbols);
        string ServingLogs() => serving.Output;
        await Until(async () => await grid.Job(id), j => j.GetProperty("detail").GetString()!.Contains("no worker silo in the cluster", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "a waiting job saying there is no worker", ServingLogs);
        await Task.Delay(TimeSpan.FromSeconds(3));  // three check intervals
        JsonElement waiting = await grid.Job(id);
        Assert.Equal("waiting", State(waiting));
        Assert.Contains("no worker silo in the cluster", waiting.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, waiting.GetProperty("attempt").GetInt32());

        // Two workers join: the job runs on one of them; that one is SIGKILLed in the middle of training (its rows built,
        // its walk-forward folds not all validated).
        var workers = new[] { Start("worker1", database, "worker"), Start("worker2", database, "worker") };
        await Task.WhenAll(workers.Select(w => w.WaitReady(TimeSpan.FromSeconds(120))));
        string Logs() => string.Join("\n", _silos.Select(s => $"--- {s.Name}:\n{s.Output}"));
        JsonElement running = await Until(async () => await grid.Job(id),
            j => State(j) is not ("waiting" or "running") || j.GetProperty("progress").GetProperty("rows").GetInt32() > 0,
            TimeSpan.FromMinutes(2), "a job training", Logs);
        Assert.Equal("running", State(running));
        Assert.Equal(1, running.GetProperty("attempt").GetInt32());
        JsonElement progress = running.GetProperty("progress");
        Assert.True(progress.GetProperty("foldsDone").GetInt32() < progress.GetProperty("folds").GetInt32(), progress.ToString());
        string first = running.GetProperty("worker").GetString()!;
        SiloProcess victim = workers.Single(w => first.Contains($":{w.Ports[2]}:", StringComparison.Ordinal));
        SiloProcess survivor = workers.Single(w => w != victim);
        victim.Kill();
        var sinceKill = Stopwatch.StartNew();

        var unavailable = new List<string>();
        JsonElement registered = await Until(async () => await grid.Job(id), j => State(j) is not ("waiting" or "running"),
            TimeSpan.FromMinutes(3), "the job's end", Logs, unavailable);
        output.WriteLine($"killed {victim.Name} at {running.GetProperty("progress")}; the job ended {sinceKill.Elapsed.TotalSeconds:0.0} s later: {State(registered)}, attempt {registered.GetProperty("attempt")}");
        output.WriteLine($"{unavailable.Count} reads answered 503 meanwhile{string.Concat(unavailable.Select(u => "\n  " + u))}");
        Assert.True(State(registered) == "registered", $"{registered}\n{Logs()}");
        Assert.True(registered.GetProperty("attempt").GetInt32() >= 2, registered.ToString());
        Assert.Contains($":{survivor.Ports[2]}:", registered.GetProperty("worker").GetString(), StringComparison.Ordinal);

        // Exactly one version carries the job's tag: the challenger, in shadow.
        JsonElement registry = await grid.Registry();
        JsonElement[] tagged = [.. registry.GetProperty("versions").EnumerateArray()
            .Where(v => v.GetProperty("tags").TryGetProperty("retrain.job", out JsonElement tag) && tag.GetString() == id)];
        Assert.Single(tagged);
        Assert.Equal(registered.GetProperty("version").GetString(), tagged[0].GetProperty("version").GetString());
        Assert.Contains(registry.GetProperty("shadows").EnumerateArray(), s => s.GetString() == tagged[0].GetProperty("version").GetString());
        await AssertNoAssetGrainEver(survivor);
    }

    public void Dispose()
    {
        foreach (var silo in _silos)
        {
            silo.Dispose();
        }
        _servers.Dispose();
    }
}
