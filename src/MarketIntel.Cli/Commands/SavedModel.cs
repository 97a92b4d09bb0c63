using System.Security.Cryptography;
using MarketIntel.CommandLine;
using MarketIntel.Features.Io;
using MarketIntel.Training;
using MarketIntel.Training.Drift;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// How <c>train</c> and <c>backtest --save-model</c> write a model: the XGBoost JSON file, and its lineage next to it
/// (<see cref="ModelLineage.FileSuffix"/>) with the reference profile of the training rows inside it, each written
/// whole or not at all.
/// </summary>
internal static class SavedModel
{
    /// <summary>The option both commands take for the profile's bins, and its check.</summary>
    public const string ProfileBinsOption = "profile-bins";

    /// <summary>The <c>--profile-bins</c> value, or the default.</summary>
    public static int ProfileBins(CliArguments options) =>
        options.OptionalInt(ProfileBinsOption, 1, FeatureReference.MaxBins) ?? ProfileBuilder.DefaultBins;

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="path"/> and, when <paramref name="rows"/> is given, its lineage
    /// (<see cref="ModelLineage.Describe"/>) with the profile of <paramref name="features"/> (the training rows, row-major).
    /// </summary>
    public static void Write(string path, BoostedTrees model, string tool, string? spec, TrainingRows? rows, ReadOnlySpan<float> features, string dataFile, string? close,
        LineageExtras extras)
    {
        var bytes = new MemoryStream();
        model.WriteXgboostJson(bytes);
        byte[] modelBytes = bytes.ToArray();
        ModelLineage? lineage = null;
        if (rows is not null)
        {
            byte[] dataSha;
            using (FileStream file = File.OpenRead(dataFile))
            {
                dataSha = SHA256.HashData(file);
            }
            lineage = ModelLineage.Describe(model, modelBytes, Path.GetFileName(path), tool, spec, rows, features,
                new TrainingData(dataFile, Convert.ToHexStringLower(dataSha), close), extras);
        }
        AtomicFile.Write(path, stream => stream.Write(modelBytes));
        if (lineage is not null)
        {
            AtomicFile.Write(path + ModelLineage.FileSuffix, lineage.WriteJson);
        }
    }
}
