using System.Globalization;
using System.Security.Cryptography;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Features.Series;
using MarketIntel.Gpu.Devices;
using MarketIntel.Gpu.Drift;
using MarketIntel.Grains.Drift;
using MarketIntel.Grains.Models;
using MarketIntel.Inference;
using MarketIntel.Server.Api;
using MarketIntel.Server.Hosting;
using MarketIntel.Training;
using MarketIntel.Training.Drift;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel drift --model</c>: the grid's drift scan done in this process on bar files, with no grid. Each asset
/// (a bar file) goes through what its grain would do with those bars: the model's inputs computed bar by bar by the
/// grain's streaming features (<see cref="AssetSeries"/>), the last <c>--window</c> rows predicted by the model and
/// counted into a <see cref="DriftWindow"/> over the bins of the lineage's reference profile; the windows are then
/// evaluated together as the grid evaluates its stored windows (<see cref="DriftScanner.Evaluate(IReadOnlyList{DriftCounts}, ReferenceProfile?, double, SiloDriftScans?)"/>),
/// on the device <c>--device</c> opens (<see cref="GpuDriftScanEngine"/>) or the CPU, and answered in the grid's
/// messages, so the command prints and reports them as it does a grid's.
/// </summary>
internal static class DriftLocalScan
{
    /// <summary>The options only this mode takes.</summary>
    public static readonly string[] Options = ["model", "lineage", "data", "close", "window", DeviceOption.Name];

    /// <summary>Reads the model, its profile and the bars, scans them, and says on <paramref name="stdout"/> where the scan ran.</summary>
    /// <returns>The summary and every asset's drift with its counts, and the report's sentence on what was scanned.</returns>
    public static (Api.V1.DriftSummary Summary, List<Api.V1.AssetDrift> Scan, string Scanned) Run(CliArguments options, TextWriter stdout)
    {
        string modelFile = options.Required("model");
        string data = options.Required("data");
        string? close = options.Optional("close");
        var defaults = new DriftOptions();
        int window = options.OptionalInt("window", 2, DriftOptions.MaxWindow) ?? defaults.Window;

        // Everything is read and checked before the device is opened: a bad file fails at once.
        using Model model = Model.LoadFile(modelFile);
        byte[] bytes = File.ReadAllBytes(modelFile);
        ModelRef version = ModelBootstrap.ModelFor(modelFile, bytes);
        var (profile, lineageFile) = Profile(modelFile, bytes, options.Optional("lineage"), model, version);
        FeatureSet spec = Inputs(modelFile, model);
        var assets = BarFiles(data).Select(file => (Asset: Path.GetFileNameWithoutExtension(file), File: file, Bars: BarCsv.Read(file, close))).ToList();

        var windows = new List<DriftCounts>(assets.Count);
        foreach (var (asset, file, bars) in assets)
        {
            windows.Add(Count(asset, version, model, spec, profile, window, bars, BarTimestamps.ParseTimes(bars.Timestamps, file), file));
        }
        windows.Sort((a, b) => string.CompareOrdinal(a.Asset, b.Asset));

        IReadOnlyList<AssetDrift> evaluated;
        string device;
        using (GpuDevice? opened = DeviceOption.Open(options, stdout))
        {
            (evaluated, device) = Evaluate(windows, profile, defaults.Alpha, opened, stdout);
        }
        var summary = DriftMapping.ToMessage(DriftScanner.Summarize(evaluated));
        List<Api.V1.AssetDrift> scan = [.. evaluated.Select((drift, i) => DriftMapping.ToMessage((drift, windows[i], profile), withCounts: true))];
        string scanned = string.Create(CultureInfo.InvariantCulture,
            $"Model `{modelFile}` (as `serve --model` registers it: {version}) against the reference profile in `{lineageFile}`, on the bars of `{data}` ({assets.Count} asset(s)), scanned here on {device} {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss} UTC. ")
            + string.Create(CultureInfo.InvariantCulture, $"Each asset's model inputs and prediction over its last {window} bars, as its grain would count them, against the profile");
        return (summary, scan, scanned);
    }

    /// <summary>
    /// The windows through the silo's scan path: on <paramref name="device"/> where one is open (a device that fails hands
    /// the scan to the CPU, with its warning on stderr and a line on <paramref name="stdout"/>, as a worker silo's does),
    /// else the CPU. Returns the drift and the words for where the scan ran.
    /// </summary>
    internal static (IReadOnlyList<AssetDrift> Evaluated, string Device) Evaluate(List<DriftCounts> windows, ReferenceProfile profile, double alpha, GpuDevice? device, TextWriter stdout)
    {
        if (device is null)
        {
            return (DriftScanner.Evaluate(windows, profile, alpha), DeviceOption.Describe(null));
        }
        using ILoggerFactory logging = LoggerFactory.Create(builder => builder.AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace));
        var scans = new SiloDriftScans(logging.CreateLogger<SiloDriftScans>(), new GpuDriftScanEngine(device));
        IReadOnlyList<AssetDrift> evaluated = DriftScanner.Evaluate(windows, profile, alpha, scans);
        if (scans.Fallbacks > 0)
        {
            stdout.WriteLine($"device: the scan failed on {device.Description} and ran on the CPU paths instead (the warning on stderr says why)");
            return (evaluated, DeviceOption.Describe(null));
        }
        return (evaluated, device.Description);
    }

    // The lineage (--lineage, else the model's sidecar) checked as the registry checks it when serve --model registers
    // it, and the reference profile it carries.
    private static (ReferenceProfile Profile, string File) Profile(string modelFile, byte[] bytes, string? given, Model model, ModelRef version)
    {
        string lineageFile = given ?? modelFile + ModelLineage.FileSuffix;
        if (!File.Exists(lineageFile))
        {
            throw new UsageException(given is not null
                ? $"--lineage: file '{given}' does not exist"
                : $"{modelFile}: no reference profile to measure drift against: its lineage '{lineageFile}' does not exist (train and backtest --save-model write one; or give --lineage FILE)");
        }
        string lineage = File.ReadAllText(lineageFile);
        var info = new ModelInfo(version, model.Kind, model.FeatureNames?.ToArray(), model.FeatureCount, [.. model.OutputNames]);
        try
        {
            LineageCheck.Label(lineage, info, Convert.ToHexStringLower(SHA256.HashData(bytes)));
            return (ProfileCheck.InLineage(lineage, info)
                ?? throw new UsageException($"{lineageFile}: the lineage of {modelFile} carries no reference profile (key 'profile') to measure drift against"), lineageFile);
        }
        catch (GridException e)
        {
            throw new UsageException($"{lineageFile}: {e.Message}");
        }
    }

    // The model's inputs as features computed from bars, as a grain feeds a model whose every input is a feature name.
    private static FeatureSet Inputs(string modelFile, Model model)
    {
        if (model.FeatureNames is not { Count: > 0 } names)
        {
            throw new UsageException($"{modelFile}: the model does not name its features, so they cannot be computed from bars");
        }
        try
        {
            return FeatureSet.Parse(string.Join(',', names));
        }
        catch (FeatureSpecException e)
        {
            throw new UsageException($"{modelFile}: the model's inputs are not all features computed from bars ({e.Message})");
        }
    }

    // A bar file, or every *.csv file of a folder (in name order), one asset each.
    private static string[] BarFiles(string data)
    {
        if (File.Exists(data))
        {
            return [data];
        }
        if (!Directory.Exists(data))
        {
            throw new UsageException($"--data: '{data}' is neither a bar file nor a folder");
        }
        string[] files = Directory.GetFiles(data, "*.csv");
        Array.Sort(files, StringComparer.Ordinal);
        return files.Length > 0 ? files : throw new UsageException($"--data: folder '{data}' holds no .csv bar files");
    }

    // One asset's window as its grain would hold it after these bars: the inputs after every bar from the streaming
    // features (warm-up values missing), the last `window` rows predicted in one batch, inputs and prediction counted.
    private static DriftCounts Count(string asset, ModelRef version, Model model, FeatureSet spec, ReferenceProfile profile, int window, BarSeries bars, long[] times, string file)
    {
        // The profile's features are the model's inputs in the model's order (ProfileCheck), and the spec is those inputs.
        int width = model.FeatureCount, first = Math.Max(0, bars.Count - window), rows = bars.Count - first;
        var series = new AssetSeries(spec, historyLength: 1, archived: false);
        var inputs = new float[rows * width];
        for (int b = 0; b < bars.Count; b++)
        {
            if (b > 0 && times[b] <= times[b - 1])
            {
                throw new DataFormatException(file, b + 2, 1, $"bar time {bars.Timestamps[b]} is not after the bar before it ({bars.Timestamps[b - 1]}): bars must be in time order");
            }
            series.Apply(new StoredBar(times[b], bars[b]));
            if (b >= first)
            {
                ReadOnlySpan<double> values = series.Values;
                for (int f = 0; f < width; f++)
                {
                    inputs[((b - first) * width) + f] = (float)values[f];
                }
            }
        }
        var outputs = new float[rows * model.OutputCount];
        model.PredictBatch(inputs, outputs);
        FeatureReference[] references = DriftScanner.Series(profile);
        var counted = new DriftWindow(references, window);
        var row = new float[references.Length];
        for (int r = 0; r < rows; r++)
        {
            inputs.AsSpan(r * width, width).CopyTo(row);
            if (profile.Prediction is not null)
            {
                row[^1] = outputs[r * model.OutputCount];
            }
            counted.Add(row);
        }
        return DriftScanner.Stored(asset, version, counted);
    }
}
