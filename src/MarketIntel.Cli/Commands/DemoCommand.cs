using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Server.Hosting;
using MarketIntel.Training;
using MarketIntel.Training.Drift;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The main job on embedded defaults: starts a silo in process, registers the bundled direction model as the
/// champion and a second, smaller one as a challenger in shadow, replays the bundled daily data of six assets through
/// gRPC IngestBars while streaming the live predictions back, checks each grain's online features against the batch
/// form, prints a summary with both versions' live scores and the promotion gate's verdict. <c>--serve</c> keeps
/// serving afterwards.
/// </summary>
internal static class DemoCommand
{
    public const string Usage = "marketintel demo [--serve] [--http-port P] [--grpc-port Q]";

    private static readonly (string Asset, string File, string? Close)[] Series =
    [
        ("MSFT", "msft-daily.csv", null),
        ("TTRC", "ttrc-daily.csv", null),
        ("DAX", "eustockmarkets-daily.csv", "DAX"),
        ("SMI", "eustockmarkets-daily.csv", "SMI"),
        ("CAC", "eustockmarkets-daily.csv", "CAC"),
        ("FTSE", "eustockmarkets-daily.csv", "FTSE"),
    ];

    private const string ModelResource = "direction-d3-n60.json";
    private const string ChallengerResource = "direction-d2-n30.json";
    private const string ModelName = "direction";

    // What the bundled models were trained to predict (make_demo_model.py): whether the next bar closes higher; and the
    // reference drift is measured against, where one is given.
    private static string Lineage(string script, IEnumerable<string> features, ReferenceProfile? profile) =>
        $$"""{"tool": "{{script}}", "label": {"name": "up_1", "kind": "direction", "horizon": 1}, "features": [{{string.Join(", ", features.Select(f => $"\"{f}\""))}}], "profile": {{profile?.ToJson() ?? "null"}}}""";

    // The share of each series the bundled models were trained on (make_demo_model.py).
    private const double TrainedShare = 0.7;

    // The champion's reference profile: its inputs and its predictions over the rows it was trained on, the first 70%
    // of each bundled series, as `marketintel train` writes one into its lineage. Drift is then measured against it
    // on every asset's last Grid:Drift:Window bars.
    private static ReferenceProfile TrainingProfile(Inference.Model model, IReadOnlyList<string> features, (string Asset, BarSeries Bars, long[] Times)[] data)
    {
        var spec = FeatureSet.Parse(string.Join(',', features));
        var rows = new List<float>();
        foreach (var (_, bars, _) in data)
        {
            double[][] computed = spec.Compute(bars);
            for (int r = 0; r < (int)(bars.Count * TrainedShare); r++)
            {
                rows.AddRange(computed.Select(column => (float)column[r]));
            }
        }
        float[] matrix = [.. rows];
        var predictions = new float[matrix.Length / features.Count * model.OutputCount];
        model.PredictBatch(matrix, predictions);
        return ProfileRows.Build(features, matrix, model.OutputCount == 1 ? predictions : null, $"the first {TrainedShare:P0} of each bundled series");
    }

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout) => RunAsync(CliArguments.Parse(args, ["http-port", "grpc-port"], ["serve"]), stdout).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(CliArguments options, TextWriter stdout)
    {
        int[] free = FreePorts.Pick(3);
        int httpPort = options.OptionalInt("http-port", 1, 65535) ?? free[0];
        int grpcPort = options.OptionalInt("grpc-port", 1, 65535) ?? free[1];
        var data = Series.Select(s => Load(s.Asset, s.File, s.Close)).ToArray();

        var clock = Stopwatch.StartNew();
        await using WebApplication app = GridServer.Build(new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:SiloPort"] = free[2].ToString(CultureInfo.InvariantCulture),
            // The replay sends every bar of the bundled files at once, faster than the live stream is read: the
            // stream holds them all rather than dropping the oldest, as a live client far behind would see.
            ["Limits:StreamBufferPredictions"] = "100000",
            // The scores the summary prints are the grains' stored tallies: stored often, so the summary has them all.
            ["Grid:Scoring:FlushInterval"] = "00:00:00.2",
            // Likewise the drift windows the drift summary scans.
            ["Grid:Drift:FlushInterval"] = "00:00:00.2",
            // A drift alarm raised mid-replay would start a job on the bars archived so far; the demo asks for one
            // itself once every bar is in (serve keeps the automatic trigger on).
            ["Grid:Retraining:Triggers:Drift"] = "false",
        }, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        try
        {
            return await Demonstrate(app, data, httpPort, grpcPort, options.Flag("serve"), clock, stdout);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static async Task<int> Demonstrate(WebApplication app, (string Asset, BarSeries Bars, long[] Times)[] data, int httpPort, int grpcPort, bool serve, Stopwatch clock, TextWriter stdout)
    {
        stdout.WriteLine($"MarketIntel grid demo: a silo on embedded defaults started in {clock.ElapsedMilliseconds} ms");
        stdout.WriteLine($"  gRPC grpc://127.0.0.1:{grpcPort}, HTTP http://127.0.0.1:{httpPort} (/predict/{{asset}}, /features/{{asset}}, /metrics, /dashboard)");

        using var channel = GridChannel.Create($"grpc://127.0.0.1:{grpcPort}");
        var client = GridClient.Create(channel);
        var models = new Models.ModelsClient(channel);
        ModelInfo info = (await RegisterVersion(models, "d3-n60", ModelResource, "champion", data)).Info;
        ModelInfo challenger = (await RegisterVersion(models, "d2-n30", ChallengerResource, null, null)).Info;
        await models.SetShadowAsync(new SetShadowRequest { Name = ModelName, Version = challenger.Version, Shadow = true });
        // Every asset follows the alias: promoting a challenger moves them all, on every silo, without a restart.
        await client.AssignModelAsync(new AssignModelRequest { Name = ModelName, Version = "@champion", Assets = { data.Select(d => d.Asset) }, MakeDefault = true });
        stdout.WriteLine($"  registered {info.Name}@{info.Version} ({info.Kind}, inputs: {string.Join(", ", info.FeatureNames)}) as {ModelName}@champion, every asset's model;");
        stdout.WriteLine($"  and {challenger.Name}@{challenger.Version} (a smaller model on the same inputs) as a challenger in shadow: it predicts every bar too, scored, never served");

        // Live predictions: one per accepted bar, streamed back while the bars go in.
        var received = data.ToDictionary(d => d.Asset, _ => new List<Prediction>());
        using var stream = client.StreamPredictions(new StreamPredictionsRequest { Assets = { data.Select(d => d.Asset) } });
        await stream.ResponseHeadersAsync;
        int totalBars = data.Sum(d => d.Bars.Count);
        var reading = Task.Run(async () =>
        {
            int n = 0;
            try
            {
                await foreach (Prediction p in stream.ResponseStream.ReadAllAsync())
                {
                    received[p.Asset].Add(p);
                    if (++n % 2500 == 0 || n == totalBars)
                    {
                        stdout.WriteLine($"  live: {n,6} predictions so far; {p.Asset,-4} at {Time(p.AsOf)}: p(up) = {p.Value:0.000}");
                    }
                }
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
            {
                // The demo closed the stream.
            }
        });

        stdout.WriteLine($"replaying {totalBars} bars of {data.Length} assets through gRPC IngestBars ...");
        clock.Restart();
        var ingests = await Task.WhenAll(data.Select(d => GridClient.IngestAsync(client, d.Asset, d.Bars, d.Times, 0, d.Bars.Count)));
        double ingestSeconds = clock.Elapsed.TotalSeconds;
        long accepted = ingests.Sum(r => r.Accepted);
        // Every accepted bar yields one prediction; give the stream a moment to deliver the last ones.
        for (var wait = Stopwatch.StartNew(); received.Values.Sum(l => l.Count) < accepted && wait.Elapsed < TimeSpan.FromSeconds(10);)
        {
            await Task.Delay(20);
        }
        stream.Dispose();
        await reading;

        // Online features (what the grains computed bar by bar) against the batch form over the whole series.
        int featureCount = new Grains.GridOptions().Features.Split(',').Concat(info.FeatureNames).Distinct(StringComparer.Ordinal).Count();
        int checkedCells = 0, mismatches = 0;
        foreach (var (asset, bars, _) in data)
        {
            var online = await client.GetFeaturesAsync(new GetFeaturesRequest { Asset = asset });
            double[][] batch = FeatureSet.Parse(string.Join(",", online.Names)).Compute(bars);
            for (int f = 0; f < online.Names.Count; f++)
            {
                checkedCells++;
                if (!online.Values[f].Equals(batch[f][bars.Count - 1]))
                {
                    mismatches++;
                }
            }
        }

        // Round trips of one Predict each, as a client sees them on loopback.
        var latencies = new List<double>();
        for (int i = 0; i < 2000; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await client.PredictAsync(new PredictRequest { Asset = data[i % data.Length].Asset });
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        latencies.Sort();

        stdout.WriteLine();
        stdout.WriteLine($"{"asset",-6}{"bars",7}{"accepted",10}{"predictions",13}{"last bar",22}{"p(up)",8}{"hit rate",10}");
        for (int a = 0; a < data.Length; a++)
        {
            var (asset, bars, _) = data[a];
            var predictions = received[asset];
            var last = predictions.Count > 0 ? predictions[^1] : null;
            stdout.WriteLine($"{asset,-6}{bars.Count,7}{ingests[a].Accepted,10}{predictions.Count,13}{(last is null ? "" : Time(last.AsOf)),22}{(last is null ? "" : last.Value.ToString("0.000", CultureInfo.InvariantCulture)),8}{HitRate(predictions, bars),10}");
        }
        stdout.WriteLine();
        stdout.WriteLine($"ingest: {accepted} bars accepted in {ingestSeconds:0.00} s ({accepted / ingestSeconds:0} bars/s, each updating {featureCount} features and predicting)");
        stdout.WriteLine($"online features equal the batch form: {(mismatches == 0 ? $"yes, all {checkedCells} checked" : $"NO, {mismatches} of {checkedCells} differ")}");
        stdout.WriteLine($"gRPC Predict round trip over loopback, one at a time: p50 {Percentile(latencies, 0.5):0.000} ms, p99 {Percentile(latencies, 0.99):0.000} ms");
        stdout.WriteLine("hit rate: how often p(up) > 0.5 matched the next bar's direction, mostly in sample: the bundled model was trained");
        stdout.WriteLine("on the first 70% of each series and has no real edge (49% on the held-out 30%, against a 53% majority class;");
        stdout.WriteLine("see src/MarketIntel.Cli/SampleData/make_demo_model.py). It is there to show the grid working, not to trade.");
        await PrintLifecycle(channel, models, accepted - data.Length, stdout);
        IReadOnlyList<string> drifting = await PrintDrift(channel, data.Length, stdout);
        bool retrained = await Retrain(channel, drifting, stdout);

        if (serve)
        {
            stdout.WriteLine();
            stdout.WriteLine($"serving on; try: curl http://127.0.0.1:{httpPort}/predict/MSFT   (Ctrl+C stops)");
            await app.WaitForShutdownAsync();
        }
        return mismatches == 0 && received.Values.Sum(l => l.Count) == accepted && retrained ? 0 : 1;
    }

    // With data, the version's lineage carries the reference profile of the rows it was trained on.
    private static async Task<ModelVersion> RegisterVersion(Models.ModelsClient models, string version, string resource, string? alias,
        (string Asset, BarSeries Bars, long[] Times)[]? data)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(Resource(resource));
        using Inference.Model model = Inference.Model.Load(bytes, resource);
        string[] features = [.. model.FeatureNames!];
        ReferenceProfile? profile = data is null ? null : TrainingProfile(model, features, data);
        return await models.RegisterAsync(new RegisterVersionRequest
        {
            Name = ModelName, Version = version, Model = ByteString.CopyFrom(bytes), Lineage = Lineage("make_demo_model.py", features, profile), Alias = alias ?? "",
        });
    }

    // Both versions' live scores, once the grains have stored a tally for every scored bar (each asset's last bar
    // waits for its outcome), and the promotion gate's verdict on the challenger.
    private static async Task PrintLifecycle(Grpc.Net.Client.GrpcChannel channel, Models.ModelsClient models, long outcomes, TextWriter stdout)
    {
        var scores = new Scores.ScoresClient(channel);
        ScoresReply reply = await scores.GetScoresAsync(new GetScoresRequest { Name = ModelName });
        for (var wait = Stopwatch.StartNew(); reply.Pairs.Sum(p => p.Pairs) < outcomes && wait.Elapsed < TimeSpan.FromSeconds(10);)
        {
            await Task.Delay(100);
            reply = await scores.GetScoresAsync(new GetScoresRequest { Name = ModelName });
        }
        stdout.WriteLine();
        stdout.WriteLine("live scores: every prediction scored against the bar after it (label up_1), summed over the six assets");
        stdout.WriteLine($"{"version",-9}{"role",-8}{"outcomes",10}{"accuracy",10}{"log loss",10}{"Brier",8}");
        foreach (VersionScore v in reply.Versions.OrderBy(v => v.Role, StringComparer.Ordinal))
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{v.Version,-9}{v.Role,-8}{v.Outcomes,10}{v.Accuracy,10:0.000}{v.LogLoss,10:0.0000}{v.Brier,8:0.0000}"));
        }
        PromotionDecisionMessage decision = await models.PromoteAsync(new PromoteRequest { Name = ModelName, Challenger = "d2-n30" });
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"promotion gate on d2-n30 against d3-n60 ({decision.Pairs} paired outcomes; McNemar p {decision.Statistics.GetValueOrDefault("mcnemarP", double.NaN):G3}, " +
            $"Diebold-Mariano p {decision.Statistics.GetValueOrDefault("dmP", double.NaN):G3}): {(decision.Promoted ? "PROMOTED" : "not promoted")}"));
        stdout.WriteLine($"  {decision.Reason}");
    }

    // The cluster's drift summary once every asset's window counts are stored, and the drifting features of the asset
    // that drifts most: each asset's last Grid:Drift:Window bars against the rows the champion was trained on.
    private static async Task<IReadOnlyList<string>> PrintDrift(Grpc.Net.Client.GrpcChannel channel, int assets, TextWriter stdout)
    {
        var drift = new Drift.DriftClient(channel);
        var per = new List<AssetDrift>();
        for (var wait = Stopwatch.StartNew(); wait.Elapsed < TimeSpan.FromSeconds(10); await Task.Delay(100))
        {
            per.Clear();
            using var scan = drift.Scan(new DriftScanRequest { Name = ModelName });
            await foreach (AssetDrift asset in scan.ResponseStream.ReadAllAsync())
            {
                per.Add(asset);
            }
            if (per.Count == assets)
            {
                break;
            }
        }
        stdout.WriteLine();
        stdout.WriteLine("drift: each asset's last bars against the reference profile of the rows d3-n60 was trained on (chi-square tests,");
        stdout.WriteLine("Benjamini-Hochberg across each asset's features; marketintel drift --report DIR draws it)");
        foreach (AssetDrift a in per.OrderBy(a => a.Asset, StringComparer.Ordinal))
        {
            var drifting = a.Features.Where(f => f.Drifting).OrderByDescending(f => f.Psi).ToList();
            string detail = a.Status != "ok" ? a.Status + $" ({a.Count} of {a.Window} bars)"
                : drifting.Count == 0 ? "no feature drifting"
                : $"{drifting.Count} of {a.Features.Count} features drifting: " + string.Join(", ", drifting.Take(3).Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Name} (PSI {f.Psi:0.00})")));
            stdout.WriteLine($"  {a.Asset,-6}{detail}");
        }
        stdout.WriteLine("the drift is real: the reference pools six series at very different price levels, and MACD is in price units,");
        stdout.WriteLine("so each series' last bars (the late-1990s rally for the indices) sit in a corner of it: a model to retrain per asset.");
        return [.. per.Where(a => a.Features.Any(f => f.Drifting)).Select(a => a.Asset).Order(StringComparer.Ordinal)];
    }

    // A retraining job for the drifting champion, as a drift alarm starts one in `serve`: on this silo (role all, so
    // serving and worker), from the bars the replay archived in memory, followed to its end. True when it registered
    // a challenger.
    private static async Task<bool> Retrain(Grpc.Net.Client.GrpcChannel channel, IReadOnlyList<string> drifting, TextWriter stdout)
    {
        var retrain = new Retrain.RetrainClient(channel);
        string why = drifting.Count == 0 ? "demo" : $"demo: {drifting.Count} assets drifting ({string.Join(", ", drifting)})";
        RetrainStartReply start = await retrain.StartAsync(new StartRetrainRequest { Name = ModelName, Reason = why });
        stdout.WriteLine();
        if (!start.Started)
        {
            stdout.WriteLine($"retraining: no job started: {start.Reason}");
            return false;
        }
        stdout.WriteLine($"retraining ({why}): job {start.Job.Id[..8]} on this silo (role all: serving and worker) ...");
        var clock = Stopwatch.StartNew();
        RetrainJob job = start.Job;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using (var watch = retrain.Watch(new RetrainJobRequest { Name = ModelName, Id = job.Id }, cancellationToken: timeout.Token))
        {
            await foreach (RetrainJob update in watch.ResponseStream.ReadAllAsync(timeout.Token))
            {
                job = update;
            }
        }
        RetrainProgress progress = job.Progress;
        double Score(string name) => progress.Validation.TryGetValue(name, out double v) ? v : double.NaN;
        if (job.State is not ("registered" or "promoted"))
        {
            stdout.WriteLine($"  ended {job.State} after {clock.Elapsed.TotalSeconds:0.0} s: {job.Detail}");
            return false;
        }
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  read {progress.BarsRead} archived bars, {progress.Rows} rows; walk-forward over {progress.Folds} folds: accuracy {Score("accuracy"):0.000}, AUC {Score("auc"):0.000}, log loss {Score("logLoss"):0.0000}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  registered {ModelName}@{job.Version} in {clock.Elapsed.TotalSeconds:0.0} s with its lineage and profile, in shadow beside the champion: the gate decides once it has scored pairs"));
        stdout.WriteLine("  (in `serve`, drift alarms, a schedule, score decay and bar volume start such jobs on worker silos: docs/retraining.md)");
        return true;
    }

    // How often the prediction after bar i called the direction of bar i+1 right.
    private static string HitRate(List<Prediction> predictions, BarSeries bars)
    {
        int n = Math.Min(predictions.Count, bars.Count) - 1, hits = 0;
        for (int i = 0; i < n; i++)
        {
            bool up = bars.Close[i + 1] > bars.Close[i];
            hits += (predictions[i].Value > 0.5f) == up ? 1 : 0;
        }
        return n > 0 ? (100.0 * hits / n).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "";
    }

    private static double Percentile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];

    private static string Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    // Bundled series are stamped with dates, which the grid reports back as asOf: checked as ingest checks a file.
    private static (string Asset, BarSeries Bars, long[] Times) Load(string asset, string file, string? close)
    {
        string source = $"{file} (bundled)";
        var bars = BarCsv.Parse(Resource(file), source, close);
        return (asset, bars, BarTimestamps.ParseTimes(bars.Timestamps, source));
    }

    private static string Resource(string file)
    {
        using var stream = typeof(DemoCommand).Assembly.GetManifestResourceStream($"MarketIntel.SampleData.{file}")
            ?? throw new InvalidOperationException($"the bundled {file} is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
