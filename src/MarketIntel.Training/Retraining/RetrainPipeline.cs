using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MarketIntel.Features;
using MarketIntel.Training.Devices;
using MarketIntel.Training.Drift;

namespace MarketIntel.Training.Retraining;

/// <summary>
/// What a retraining job trains: the feature spec and label (from the served version's lineage, or a request's
/// override), the booster's parameters, the walk-forward validation, and what goes into the new lineage.
/// </summary>
/// <param name="Name">The model name (for messages and the lineage).</param>
/// <param name="Spec">The feature spec text (FeatureSet.Parse).</param>
/// <param name="Label">The label: direction or log return, K bars ahead.</param>
/// <param name="Parameters">The booster's parameters.</param>
/// <param name="Folds">Walk-forward folds to validate on before the final model is trained on every row.</param>
/// <param name="ProfileBins">Quantile bins per series of the reference profile.</param>
/// <param name="Replaces">The version the new one is trained to replace (lineage <c>replaces</c>), or null.</param>
/// <param name="Tool">The lineage's <c>tool</c>, e.g. "marketintel retrain (job 1f3c...)".</param>
public sealed record RetrainPlan(string Name, string Spec, LabelDefinition Label, BoostParameters Parameters, int Folds, int ProfileBins, string? Replaces, string Tool);

/// <summary>One asset's archived bars, oldest first, each timestamp its time in Unix milliseconds.</summary>
public sealed record AssetBars(string Asset, BarSeries Bars);

/// <summary>What a step of <see cref="RetrainPipeline.Run"/> has done: rows built, folds validated, rounds trained, scores measured.</summary>
public sealed record RetrainStep(int Rows, int FoldsDone, int Folds, int RoundsDone, int Rounds, IReadOnlyDictionary<string, double>? Validation);

/// <summary>A trained challenger: the XGBoost JSON model, its version (the first 12 hex digits of its SHA-256, as
/// <c>serve --model</c> names versions), its lineage JSON (with the reference profile) and the validation scores.</summary>
public sealed record RetrainOutput(byte[] Model, string Version, string Lineage, IReadOnlyDictionary<string, double> Validation, int Rows);

/// <summary>
/// The training half of a retraining job, with no grid in it: rows from every asset's bars, walk-forward validation,
/// the final model on all rows, and the lineage with the reference profile.
/// <para>
/// Rows are built per asset (<see cref="Dataset.Build"/>: no feature crosses from one asset into another) and pooled in
/// time order (ties in the assets' ordinal order). Timestamps are Unix milliseconds, as the archive keeps them. The walk-forward splits the pooled rows into <see cref="RetrainPlan.Folds"/>
/// expanding folds of equal test windows; each fold trains on the rows before its window whose label's bar is no later
/// than the window's first row, since a gap counted in rows is not a gap in time once assets are pooled.
/// </para>
/// <para>
/// The result depends on the bars and the plan alone (not on the order the assets come in, the thread count or the
/// machine), so a retried job makes the same version. The lineage's data hash (<c>data.sha256</c>, data file
/// <see cref="ArchiveDataFile"/>) is the SHA-256 of the bars in this UTF-8 text form: for each asset in ordinal order
/// of its name a line <c>asset NAME</c>, then a line per bar, oldest first,
/// <c>timestamp,open,high,low,close,volume</c>, each number in its shortest round-trip form with a '.' decimal point,
/// every line ending in '\n'.
/// </para>
/// </summary>
public static class RetrainPipeline
{
    /// <summary>The fewest rows a fold may train on, and the fewest in each test window.</summary>
    public const int MinimumWindowRows = 10;

    /// <summary>The lineage's data file for bars read from the grid's bar archive.</summary>
    public const string ArchiveDataFile = "archive";

    /// <summary>Trains a challenger per <paramref name="plan"/> on <paramref name="bars"/>, reporting each step; stops with
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellation"/> fires. With <paramref name="device"/>, every
    /// model of the job (each fold's and the final one) trains through it, taken once for the whole job.</summary>
    /// <remarks>
    /// A device that fails during the job (anything it throws but a cancellation: a launch, a lost context, its memory)
    /// does not fail the job: <paramref name="deviceFailed"/> hears of it, progress starts again at fold 0, and every model
    /// of the job trains again on the CPU from the job's start, on the rows already built. Not from the failed step: the
    /// device's models are close to the CPU's but not equal (docs/gpu.md), so only a job trained wholly on the CPU has the
    /// bytes, version and scores a CPU-only job has on the same bars and plan.
    /// </remarks>
    /// <exception cref="ArgumentException">The bars give too few rows for the folds, or the plan is invalid; the message says which.</exception>
    public static RetrainOutput Run(RetrainPlan plan, IReadOnlyList<AssetBars> bars, IProgress<RetrainStep>? progress, CancellationToken cancellation,
        ITrainingDevice? device = null, Action<TrainingDeviceException>? deviceFailed = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(bars);
        FeatureSet spec = Check(plan);
        AssetBars[] assets = Order(plan.Name, bars);
        cancellation.ThrowIfCancellationRequested();
        PooledRows rows = PooledRows.Build(spec, plan.Label, assets);
        int[][] training = FoldRows(plan, rows, out IReadOnlyList<Fold> folds);
        int rounds = plan.Parameters.Rounds;
        progress?.Report(new RetrainStep(rows.Count, 0, folds.Count, 0, rounds, null));

        (BoostedTrees model, IReadOnlyDictionary<string, double> validation) = device is null
            ? Train(plan, rows, folds, training, null, progress, cancellation)
            : TrainOn(device, plan, rows, folds, training, progress, deviceFailed, cancellation);
        using var written = new MemoryStream();
        model.WriteXgboostJson(written);
        byte[] bytes = written.ToArray();
        string version = Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
        var described = new TrainingRows(rows.Names, plan.Label, rows.Keys[0], rows.Keys[^1], rows.Count);
        string[] names = [.. assets.Select(a => a.Asset)];
        ModelLineage lineage = ModelLineage.Describe(model, bytes, $"{plan.Name}-{version}.json", plan.Tool, plan.Spec, described, rows.Features,
            new TrainingData(ArchiveDataFile, DataSha256(assets), null), new LineageExtras(names, validation, plan.Replaces, plan.ProfileBins));
        return new RetrainOutput(bytes, version, lineage.ToJson(), validation, rows.Count);
    }

    /// <summary>The SHA-256 (lower-case hex) of <paramref name="bars"/> in the text form the class documents (assets in ordinal order).</summary>
    public static string DataSha256(IReadOnlyList<AssetBars> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var line = new StringBuilder();
        foreach (AssetBars asset in bars.OrderBy(a => a.Asset, StringComparer.Ordinal))
        {
            line.Clear().Append("asset ").Append(asset.Asset).Append('\n');
            BarSeries b = asset.Bars;
            for (int t = 0; t < b.Count; t++)
            {
                line.Append(b.Timestamps[t]);
                foreach (double value in (ReadOnlySpan<double>)[b.Open[t], b.High[t], b.Low[t], b.Close[t], b.Volume[t]])
                {
                    line.Append(',').Append(value.ToString("R", CultureInfo.InvariantCulture));
                }
                line.Append('\n');
                if (line.Length > 64 * 1024)
                {
                    hash.AppendData(Encoding.UTF8.GetBytes(line.ToString()));
                    line.Clear();
                }
            }
            hash.AppendData(Encoding.UTF8.GetBytes(line.ToString()));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // The plan's own checks, before any bar is read: each names the plan's field at fault.
    private static FeatureSet Check(RetrainPlan plan)
    {
        string where = $"retraining plan of model '{plan.Name}'";
        if (string.IsNullOrWhiteSpace(plan.Name))
        {
            throw new ArgumentException("retraining plan: the model name is empty");
        }
        if (plan.Label.Horizon < 1)
        {
            throw new ArgumentException($"{where}: label horizon {plan.Label.Horizon} must be at least 1 bar");
        }
        if (plan.Folds < 1)
        {
            throw new ArgumentException($"{where}: folds {plan.Folds} must be at least 1");
        }
        if (plan.ProfileBins is < 1 or > FeatureReference.MaxBins)
        {
            throw new ArgumentException($"{where}: profile bins {plan.ProfileBins} must be from 1 to {FeatureReference.MaxBins}");
        }
        ArgumentNullException.ThrowIfNull(plan.Parameters);
        try
        {
            plan.Parameters.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{where}: parameters: {e.Message}", e);
        }
        string objective = BoostParameters.ObjectiveFor(plan.Label.Kind);
        if (plan.Parameters.Objective != objective)
        {
            throw new ArgumentException($"{where}: objective '{plan.Parameters.Objective}' does not fit label {plan.Label.Name}, which needs {objective}");
        }
        try
        {
            return FeatureSet.Parse(plan.Spec);
        }
        catch (FeatureSpecException e)
        {
            throw new ArgumentException($"{where}: spec '{plan.Spec}': {e.Message}", e);
        }
    }

    // The assets in ordinal order of their names, so that the order they came in changes nothing.
    private static AssetBars[] Order(string model, IReadOnlyList<AssetBars> bars)
    {
        if (bars.Count == 0)
        {
            throw new ArgumentException($"model '{model}': no assets' bars to train on");
        }
        AssetBars[] ordered = [.. bars.OrderBy(a => a?.Asset, StringComparer.Ordinal)];
        for (int i = 0; i < ordered.Length; i++)
        {
            if (ordered[i] is not { Asset.Length: > 0, Bars: not null })
            {
                throw new ArgumentException($"model '{model}': an asset's bars have no asset name or no bars");
            }
            if (i > 0 && ordered[i].Asset == ordered[i - 1].Asset)
            {
                throw new ArgumentException($"model '{model}': asset {ordered[i].Asset} is given twice");
            }
        }
        return ordered;
    }

    // The walk-forward folds over the pooled rows, and each fold's training rows: those before its test window whose
    // label's bar is no later than the window's first row (purged in time, whatever asset they come from).
    private static int[][] FoldRows(RetrainPlan plan, PooledRows rows, out IReadOnlyList<Fold> folds)
    {
        int n = rows.Count;
        int test = n / (plan.Folds + 1);
        if (test < MinimumWindowRows)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"model '{plan.Name}': {rows.Describe()} give {n} rows, too few for {plan.Folds} walk-forward folds of at least {MinimumWindowRows} test rows after at least {MinimumWindowRows} training rows ({MinimumWindowRows * (plan.Folds + 1)} rows)"));
        }
        folds = WalkForward.Folds(n, n - (plan.Folds * test), test, rolling: false);
        var training = new int[folds.Count][];
        for (int f = 0; f < folds.Count; f++)
        {
            Fold fold = folds[f];
            long start = rows.Time[fold.TestStart];
            var keep = new List<int>(fold.TrainEnd);
            for (int i = fold.TrainStart; i < fold.TrainEnd; i++)
            {
                if (rows.LabelTime[i] <= start)
                {
                    keep.Add(i);
                }
            }
            if (keep.Count < MinimumWindowRows)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"model '{plan.Name}': {rows.Describe()} give {n} rows; fold {f + 1} of {folds.Count} keeps {keep.Count} training rows whose label ends by its test window's start, under the {MinimumWindowRows} it needs"));
            }
            training[f] = [.. keep];
        }
        return training;
    }

    // Every model of the job through the device, or, where the device fails, every one again on the CPU.
    private static (BoostedTrees Model, IReadOnlyDictionary<string, double> Validation) TrainOn(ITrainingDevice device, RetrainPlan plan, PooledRows rows,
        IReadOnlyList<Fold> folds, int[][] training, IProgress<RetrainStep>? progress, Action<TrainingDeviceException>? deviceFailed, CancellationToken cancellation)
    {
        try
        {
            // Taken after the rows are built (the CPU's work), so a job waiting for the device does not hold it meanwhile.
            using CheckedHistogramDevice histograms = CheckedHistogramDevice.Take(device, cancellation);
            return Train(plan, rows, folds, training, histograms, progress, cancellation);
        }
        catch (TrainingDeviceException failure)
        {
            // A device that fails while the job is being cancelled (its silo stopping under it) leaves a cancelled job.
            cancellation.ThrowIfCancellationRequested();
            deviceFailed?.Invoke(failure);
            progress?.Report(new RetrainStep(rows.Count, 0, folds.Count, 0, plan.Parameters.Rounds, null));
            return Train(plan, rows, folds, training, null, progress, cancellation);
        }
    }

    // The walk-forward validation, then the final model on every row.
    private static (BoostedTrees Model, IReadOnlyDictionary<string, double> Validation) Train(RetrainPlan plan, PooledRows rows, IReadOnlyList<Fold> folds,
        int[][] training, IHistogramDevice? histograms, IProgress<RetrainStep>? progress, CancellationToken cancellation)
    {
        IReadOnlyDictionary<string, double> validation = Validate(plan, rows, folds, training, histograms, progress, cancellation);
        cancellation.ThrowIfCancellationRequested();
        int rounds = plan.Parameters.Rounds;
        int every = Math.Max(1, rounds / 20);
        BoostedTrees model = GradientBooster.Train(rows.Features, rows.Names, rows.Labels, plan.Parameters, round =>
        {
            cancellation.ThrowIfCancellationRequested();
            if (round % every == 0 || round == rounds)
            {
                progress?.Report(new RetrainStep(rows.Count, folds.Count, folds.Count, round, rounds, validation));
            }
        }, histograms);
        return (model, validation);
    }

    // Each fold's model, trained on its rows alone, predicts its test window; the scores are over every test row.
    private static IReadOnlyDictionary<string, double> Validate(RetrainPlan plan, PooledRows rows, IReadOnlyList<Fold> folds, int[][] training,
        IHistogramDevice? histograms, IProgress<RetrainStep>? progress, CancellationToken cancellation)
    {
        int first = folds[0].TestStart;
        var predictions = new double[rows.Count - first];
        int width = rows.Names.Length;
        IReadOnlyDictionary<string, double>? validation = null;
        for (int f = 0; f < folds.Count; f++)
        {
            cancellation.ThrowIfCancellationRequested();
            int[] take = training[f];
            var x = new float[take.Length * width];
            var y = new float[take.Length];
            for (int r = 0; r < take.Length; r++)
            {
                rows.Row(take[r]).CopyTo(x.AsSpan(r * width, width));
                y[r] = rows.Labels[take[r]];
            }
            BoostedTrees model = GradientBooster.Train(x, rows.Names, y, plan.Parameters, _ => cancellation.ThrowIfCancellationRequested(), histograms);
            for (int r = folds[f].TestStart; r < folds[f].TestEnd; r++)
            {
                predictions[r - first] = model.Predict(rows.Row(r));
            }
            if (f == folds.Count - 1)
            {
                validation = WalkForward.Scores(predictions, rows.Labels.AsSpan(first), folds.Count, plan.Label.Kind);
            }
            progress?.Report(new RetrainStep(rows.Count, f + 1, folds.Count, 0, plan.Parameters.Rounds, validation));
        }
        return validation!;
    }

    /// <summary>Every asset's rows pooled in time order, with each row's time and its label's time (both Unix ms), and what each asset gave.</summary>
    private sealed record PooledRows(string[] Names, float[] Features, float[] Labels, long[] Time, long[] LabelTime, string[] Keys, (string Asset, int Bars, int Rows)[] Counts)
    {
        public int Count => Labels.Length;

        public ReadOnlySpan<float> Row(int row) => Features.AsSpan(row * Names.Length, Names.Length);

        /// <summary>"MSFT (249 bars, 200 rows), TTRC (...)": what each asset gave.</summary>
        public string Describe() => string.Join(", ", Counts.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Asset} ({c.Bars} bars, {c.Rows} rows)")));

        public static PooledRows Build(FeatureSet spec, LabelDefinition label, AssetBars[] assets)
        {
            var sets = new (Dataset? Rows, long[] Times)[assets.Length];
            var counts = new (string, int, int)[assets.Length];
            var order = new List<(long Time, int Asset, int Row)>();
            for (int a = 0; a < assets.Length; a++)
            {
                BarSeries bars = assets[a].Bars;
                long[] times = Times(assets[a]);
                // An asset with no bar `horizon` bars ahead gives no rows; the count check says so with the others.
                Dataset? data = bars.Count > label.Horizon ? Dataset.Build(bars, spec, label.Horizon, label.Kind) : null;
                sets[a] = (data, times);
                counts[a] = (assets[a].Asset, bars.Count, data?.Rows ?? 0);
                for (int r = 0; r < (data?.Rows ?? 0); r++)
                {
                    order.Add((times[data!.BarIndex[r]], a, r));
                }
            }
            // (time, asset) is unique, since each asset's times strictly increase: the order is total.
            order.Sort();
            string[] names = [.. spec.Names];
            int width = names.Length;
            var features = new float[order.Count * width];
            var labels = new float[order.Count];
            var time = new long[order.Count];
            var labelTime = new long[order.Count];
            var keys = new string[order.Count];
            for (int i = 0; i < order.Count; i++)
            {
                var (t, a, r) = order[i];
                Dataset data = sets[a].Rows!;
                data.Row(r).CopyTo(features.AsSpan(i * width, width));
                labels[i] = data.Labels[r];
                time[i] = t;
                labelTime[i] = sets[a].Times[data.BarIndex[r] + label.Horizon];
                keys[i] = data.Timestamps[r];
            }
            return new PooledRows(names, features, labels, time, labelTime, keys, counts);
        }

        // Each bar's time in Unix ms, checked to increase strictly (the archive's order, oldest first).
        private static long[] Times(AssetBars asset)
        {
            string[] stamps = asset.Bars.Timestamps;
            var times = new long[stamps.Length];
            for (int t = 0; t < stamps.Length; t++)
            {
                times[t] = long.TryParse(stamps[t], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long ms) ? ms
                    : throw new ArgumentException($"{asset.Asset}: bar {t + 1}'s timestamp '{stamps[t]}' is not Unix milliseconds, the archive's times");
                if (t > 0 && times[t] <= times[t - 1])
                {
                    throw new ArgumentException($"{asset.Asset}: bar {t + 1} ({stamps[t]}) does not come after bar {t} ({stamps[t - 1]}): bars must be oldest first, one per time");
                }
            }
            return times;
        }
    }
}
