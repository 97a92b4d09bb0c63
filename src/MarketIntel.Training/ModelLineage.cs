using System.Reflection;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using MarketIntel.Features;
using MarketIntel.Training.Drift;

namespace MarketIntel.Training;

/// <summary>
/// Where a saved model came from, written next to it as <c>MODEL + ".lineage.json"</c> so that whoever serves or
/// registers the model can tell what it was trained on and rebuild it: the tool and its version, the feature spec,
/// the label, the data file with its SHA-256, the assets and the range of rows used, the booster's parameters, the
/// validation metrics where the command measured them, the version the model was trained to replace, and the
/// reference profile of the training rows that drift is measured against (key <c>profile</c>). The registry checks
/// the label, the features and the profile against the model when it is registered with it.
/// </summary>
/// <param name="Tool">The command that trained the model, e.g. <c>marketintel backtest</c>.</param>
/// <param name="ToolVersion">That command's version (the assembly's informational version: number and commit).</param>
/// <param name="Spec">The feature spec as the user gave it, or null when the features came ready-made (a feature-matrix CSV).</param>
/// <param name="Data">The training rows: feature names, label, keys of the first and last row, row count.</param>
/// <param name="DataFile">The bar or feature-matrix file as given on the command line.</param>
/// <param name="DataSha256">The bar file's SHA-256, lower-case hex.</param>
/// <param name="CloseColumn">The close column chosen with <c>--close</c>, or null for the file's own close.</param>
/// <param name="Parameters">The booster's parameters.</param>
/// <param name="ModelFile">The model file's name (no folder: the lineage sits next to it).</param>
/// <param name="ModelSha256">The model file's SHA-256, lower-case hex; its first 12 characters are the version <c>serve --model</c> registers.</param>
public sealed record ModelLineage(string Tool, string ToolVersion, string? Spec, TrainingRows Data, string DataFile, string DataSha256, string? CloseColumn,
    BoostParameters Parameters, string ModelFile, string ModelSha256)
{
    /// <summary>The assets whose bars the rows came from (as the user named them), empty when not named.</summary>
    public IReadOnlyList<string> Assets { get; init; } = [];

    /// <summary>Validation metrics by name (e.g. the walk-forward's accuracy, AUC, log loss), or null when none were measured.</summary>
    public IReadOnlyDictionary<string, double>? Validation { get; init; }

    /// <summary>The registered version this model was trained to replace, or null.</summary>
    public string? Replaces { get; init; }

    /// <summary>The reference profile of the training rows and the model's predictions on them, or null when not computed.</summary>
    public ReferenceProfile? Profile { get; init; }

    /// <summary>What follows the model's path in its lineage file's path.</summary>
    public const string FileSuffix = ".lineage.json";

    /// <summary>
    /// The lineage of a model trained on rows made from bars: the one way <c>train</c>, <c>backtest</c> and a
    /// retraining job describe what they trained. It carries <paramref name="model"/>'s parameters, the SHA-256 of
    /// <paramref name="modelBytes"/> (its XGBoost JSON), this build's version, and the reference profile of
    /// <paramref name="features"/> (the training rows, row-major) with the model's predictions on them.
    /// </summary>
    /// <param name="model">The trained model.</param>
    /// <param name="modelBytes">The model as written (XGBoost JSON).</param>
    /// <param name="modelFile">The model file's name.</param>
    /// <param name="tool">The command or job that trained it.</param>
    /// <param name="spec">The feature spec, or null when the features came ready-made.</param>
    /// <param name="rows">The training rows' description.</param>
    /// <param name="features">The training rows, row-major.</param>
    /// <param name="data">Where the rows' data came from.</param>
    /// <param name="extras">Assets, validation, the version replaced and the profile's bins.</param>
    public static ModelLineage Describe(BoostedTrees model, byte[] modelBytes, string modelFile, string tool, string? spec, TrainingRows rows, ReadOnlySpan<float> features,
        TrainingData data, LineageExtras extras)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(modelBytes);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(extras);
        return new ModelLineage(tool, BuildVersion, spec, rows, data.File, data.Sha256, data.Close, model.Parameters, modelFile,
            Convert.ToHexStringLower(SHA256.HashData(modelBytes)))
        {
            Assets = extras.Assets,
            Validation = extras.Validation,
            Replaces = extras.Replaces,
            Profile = ProfileRows.Build(rows.FeatureNames, features, ProfileRows.Predictions(model, features), $"training rows of {data.File}", extras.ProfileBins),
        };
    }

    // Every project of the repository is built with the same informational version (number and commit).
    private static string BuildVersion =>
        typeof(ModelLineage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The lineage as the indented JSON <see cref="WriteJson"/> writes (what the registry stores).</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        WriteJson(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes the lineage as indented JSON.</summary>
    public void WriteJson(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (Data.Rows == 0)
        {
            throw new ArgumentException("lineage: a model trained on no rows has no data range");
        }
        // A file people read: '+' in a version or an apostrophe in a path stays as it is, not \u002B.
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("tool", Tool);
        json.WriteString("toolVersion", ToolVersion);
        json.WriteString("model", ModelFile);
        json.WriteString("modelSha256", ModelSha256);
        if (Spec is null)
        {
            json.WriteNull("spec");
        }
        else
        {
            json.WriteString("spec", Spec);
        }
        json.WriteStartArray("features");
        foreach (string name in Data.FeatureNames)
        {
            json.WriteStringValue(name);
        }
        json.WriteEndArray();
        json.WriteStartObject("label");
        json.WriteString("name", Data.Label.Name);
        json.WriteString("kind", Data.Label.Kind == LabelKind.Direction ? "direction" : "logReturn");
        json.WriteNumber("horizon", Data.Label.Horizon);
        json.WriteEndObject();
        json.WriteStartObject("data");
        json.WriteString("file", DataFile);
        json.WriteString("sha256", DataSha256);
        if (CloseColumn is null)
        {
            json.WriteNull("close");
        }
        else
        {
            json.WriteString("close", CloseColumn);
        }
        json.WriteString("firstKey", Data.FirstKey);
        json.WriteString("lastKey", Data.LastKey);
        json.WriteNumber("rows", Data.Rows);
        json.WriteStartArray("assets");
        foreach (string asset in Assets)
        {
            json.WriteStringValue(asset);
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteStartObject("parameters");
        json.WriteString("objective", Parameters.Objective);
        // Every parameter that changes the trees (threads do not), named as BoostParameters names them.
        (string Name, double Value)[] numbers =
        [
            ("rounds", Parameters.Rounds), ("maxDepth", Parameters.MaxDepth), ("eta", Parameters.Eta), ("minChildWeight", Parameters.MinChildWeight),
            ("lambda", Parameters.Lambda), ("alpha", Parameters.Alpha), ("gamma", Parameters.Gamma), ("subsample", Parameters.Subsample),
            ("colsampleBytree", Parameters.ColsampleBytree), ("maxBin", Parameters.MaxBin), ("seed", Parameters.Seed),
        ];
        foreach (var (name, value) in numbers)
        {
            json.WriteNumber(name, value);
        }
        json.WriteEndObject();
        if (Validation is { } validation)
        {
            json.WriteStartObject("validation");
            foreach (var (name, value) in validation)
            {
                if (double.IsFinite(value))
                {
                    json.WriteNumber(name, value);
                }
                else
                {
                    json.WriteNull(name);
                }
            }
            json.WriteEndObject();
        }
        if (Replaces is null)
        {
            json.WriteNull("replaces");
        }
        else
        {
            json.WriteString("replaces", Replaces);
        }
        if (Profile is not null)
        {
            json.WritePropertyName("profile");
            Profile.WriteJson(json);
        }
        json.WriteEndObject();
    }
}

/// <summary>What a lineage says of the rows a model was trained on.</summary>
/// <param name="FeatureNames">The model's features, in its column order.</param>
/// <param name="Label">The label the rows were trained on.</param>
/// <param name="FirstKey">The key (timestamp) of the first row.</param>
/// <param name="LastKey">The key of the last row.</param>
/// <param name="Rows">How many rows.</param>
public sealed record TrainingRows(IReadOnlyList<string> FeatureNames, LabelDefinition Label, string FirstKey, string LastKey, int Rows)
{
    /// <summary>The rows of a dataset built from bars.</summary>
    public static TrainingRows Of(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.Rows == 0 ? throw new ArgumentException("lineage: a model trained on no rows has no data range")
            : new(data.FeatureNames, new LabelDefinition(data.Kind, data.Horizon), data.Timestamps[0], data.Timestamps[^1], data.Rows);
    }
}

/// <summary>Where a model's training data came from, as its lineage names it.</summary>
/// <param name="File">The bar or feature-matrix file as given on the command line, or <c>archive</c> for the grid's bar archive.</param>
/// <param name="Sha256">The data's SHA-256, lower-case hex (of the file's bytes, or of the archive's bars in the form <c>RetrainPipeline</c> documents).</param>
/// <param name="Close">The close column chosen with <c>--close</c>, or null for the data's own close.</param>
public sealed record TrainingData(string File, string Sha256, string? Close);

/// <summary>What a lineage carries besides the rows and the data: the assets, validation metrics, the version replaced,
/// and how many value bins the profile's references aim at.</summary>
public sealed record LineageExtras(IReadOnlyList<string> Assets, IReadOnlyDictionary<string, double>? Validation, string? Replaces, int ProfileBins);
