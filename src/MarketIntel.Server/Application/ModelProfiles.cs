using System.Globalization;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Grains;
using MarketIntel.Inference;
using MarketIntel.Inference.Io;
using MarketIntel.Training;
using MarketIntel.Training.Drift;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Application;

/// <summary>
/// A model version's reference profile for drift, written once for the APIs: given as JSON, built from a
/// feature-matrix CSV, or built from the bar archive over a time range; in the last two the version's own model
/// predicts on the rows, so the prediction's reference is the one the live predictions are compared with. The
/// registry checks and keeps what these hand it (set once per version).
/// </summary>
internal sealed class ModelProfiles(IGrainFactory grains, IBarArchive archive, IOptions<GridOptions> grid, ModelLimits limits)
{
    /// <summary>The most assets one profile may be built from (each asset's bars are read whole up to the range's end).</summary>
    public const int MaxAssets = 1000;

    private IModelRegistryGrain Registry => grains.GetGrain<IModelRegistryGrain>(0);

    /// <summary>Gives a version the profile <paramref name="json"/>.</summary>
    public Task<ModelVersionDetails> Set(ModelRef model, string json, string client) => Registry.SetProfile(model, json, client);

    /// <summary>A version's profile JSON; NOT_FOUND saying "no reference" when it has none.</summary>
    public async Task<string> Get(ModelRef model) =>
        await Registry.GetProfile(model)
        ?? throw new GridException(GridErrorKind.NotFound, $"model {model} has no reference profile: drift reports \"no reference\" for it until one is given");

    /// <summary>Builds the profile of a feature-matrix CSV's rows (columns matched to the model's features) and gives it to the version.</summary>
    public async Task<ModelVersionDetails> FromMatrix(ModelRef model, string csv, int bins, string client)
    {
        CheckBins(bins);
        using Model loaded = await Load(model);
        FeatureMatrix matrix;
        float[] rows;
        try
        {
            matrix = FeatureMatrixCsv.Parse(csv, "body");
            rows = matrix.ForModel(loaded);
        }
        catch (DataFormatException e)
        {
            throw new GridException(GridErrorKind.InvalidArgument, e.Message);
        }
        if (matrix.Rows == 0)
        {
            throw new GridException(GridErrorKind.InvalidArgument, "body: the feature matrix has no data rows");
        }
        string source = string.Create(CultureInfo.InvariantCulture, $"feature-matrix CSV of {matrix.Rows} rows");
        // A model that does not name its features takes the columns by position: the header names them.
        return await Set(model, Build(loaded, loaded.FeatureNames ?? matrix.Names, rows, source, bins), client);
    }

    /// <summary>
    /// Builds the profile of the archive's bars of <paramref name="assets"/> from <paramref name="from"/> to
    /// <paramref name="to"/> (Unix ms, inclusive): each asset's features computed over its whole history up to
    /// <paramref name="to"/> (so the range's first rows are warmed up as the grain's are), by the version's lineage
    /// spec (else the grid's) extended by the model's inputs, and gives it to the version.
    /// </summary>
    public async Task<ModelVersionDetails> FromArchive(ModelRef model, IReadOnlyList<string> assets, long from, long to, int bins, string client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assets);
        CheckBins(bins);
        if (assets.Count is 0 or > MaxAssets)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"assets: {assets.Count} given; name 1 to {MaxAssets} assets");
        }
        if (from > to)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"from ({Time(from)}) is after to ({Time(to)})");
        }
        if (!archive.IsDurable)
        {
            throw new GridException(GridErrorKind.FailedPrecondition,
                "this grid keeps no bar archive (embedded defaults keep bars in memory only): give the profile as JSON or a feature-matrix CSV instead");
        }
        using Model loaded = await Load(model);
        IReadOnlyList<string> names = loaded.FeatureNames
            ?? throw new GridException(GridErrorKind.FailedPrecondition, $"model {model} does not name its features, so they cannot be computed from bars; give the profile as a feature-matrix CSV");
        FeatureSet spec = Spec(await Registry.GetModel(model.Name), model, names);
        int[] columns = [.. names.Select(n => spec.Names.ToList().IndexOf(n))];
        var rows = new List<float>();
        int count = 0;
        foreach (string asset in assets.Distinct(StringComparer.Ordinal))
        {
            var bars = new List<StoredBar>();
            await foreach (StoredBar bar in archive.Read(asset, cancellationToken: cancellationToken))
            {
                if (bar.Timestamp > to)
                {
                    break;
                }
                bars.Add(bar);
            }
            if (bars.Count == 0)
            {
                continue;
            }
            var series = new BarSeries([.. bars.Select(b => b.Timestamp.ToString(CultureInfo.InvariantCulture))], [.. bars.Select(b => b.Bar.Open)],
                [.. bars.Select(b => b.Bar.High)], [.. bars.Select(b => b.Bar.Low)], [.. bars.Select(b => b.Bar.Close)], [.. bars.Select(b => b.Bar.Volume)]);
            double[][] features = spec.Compute(series);
            for (int b = 0; b < bars.Count; b++)
            {
                if (bars[b].Timestamp < from)
                {
                    continue;
                }
                foreach (int c in columns)
                {
                    rows.Add((float)features[c][b]);
                }
                count++;
            }
        }
        string range = $"{string.Join(",", assets)} from {Time(from)} to {Time(to)}";
        if (count == 0)
        {
            throw new GridException(GridErrorKind.FailedPrecondition, $"the archive holds no bars of {range}: no rows to build a profile from");
        }
        string source = string.Create(CultureInfo.InvariantCulture, $"archive bars of {range} ({count} rows)");
        return await Set(model, Build(loaded, names, [.. rows], source, bins), client);
    }

    // The version's lineage spec, else the grid's, grown by any model input it lacks (as the grain grows its spec).
    private FeatureSet Spec(ModelDetails details, ModelRef model, IReadOnlyList<string> names)
    {
        string? lineage = details.Versions.FirstOrDefault(v => v.Info.Model == model)?.Lineage;
        string text = grid.Value.Features;
        string from = "the grid's spec";
        if (lineage is not null)
        {
            using var document = JsonDocument.Parse(lineage);
            if (document.RootElement.TryGetProperty("spec", out JsonElement spec) && spec.ValueKind == JsonValueKind.String && spec.GetString() is { Length: > 0 } given)
            {
                text = given;
                from = "its lineage's spec";
            }
        }
        try
        {
            FeatureSet set = FeatureSet.Parse(text);
            string[] missing = [.. names.Except(set.Names, StringComparer.Ordinal)];
            return missing.Length == 0 ? set : FeatureSet.Parse(text + "," + string.Join(",", missing));
        }
        catch (FeatureSpecException e)
        {
            throw new GridException(GridErrorKind.FailedPrecondition, $"model {model}: its features cannot be computed from bars by {from}: {e.Message}");
        }
    }

    private async Task<Model> Load(ModelRef model)
    {
        byte[] bytes = await Registry.GetBytes(model);
        // Registered, so it loaded once already under these limits.
        return Model.Load(bytes, model.ToString(), limits);
    }

    // The profile of the rows and the version's first output on each of them.
    private static string Build(Model model, IReadOnlyList<string> names, float[] rows, string source, int bins)
    {
        int count = rows.Length / model.FeatureCount;
        var outputs = new float[count * model.OutputCount];
        model.PredictBatch(rows, outputs);
        var predictions = new float[count];
        for (int r = 0; r < count; r++)
        {
            predictions[r] = outputs[r * model.OutputCount];
        }
        try
        {
            return ProfileRows.Build(names, rows, predictions, source, bins).ToJson();
        }
        catch (ArgumentException e)
        {
            throw new GridException(GridErrorKind.InvalidArgument, e.Message);
        }
    }

    private static void CheckBins(int bins)
    {
        if (bins is < 1 or > FeatureReference.MaxBins)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"bins: {bins} must be from 1 to {FeatureReference.MaxBins}");
        }
    }

    private static string Time(long unixMs) => unixMs switch
    {
        long.MinValue => "the first bar",
        long.MaxValue => "the last bar",
        _ => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
    };
}
