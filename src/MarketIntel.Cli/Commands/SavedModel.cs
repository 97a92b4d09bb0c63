using System.Reflection;
using System.Security.Cryptography;
using MarketIntel.Features.Io;
using MarketIntel.Training;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// How <c>train</c> and <c>backtest --save-model</c> write a model: the XGBoost JSON file, and its lineage next to it
/// (<see cref="ModelLineage.FileSuffix"/>), each written whole or not at all.
/// </summary>
internal static class SavedModel
{
    /// <summary>What a lineage carries besides the rows: the assets, validation metrics and the version replaced.</summary>
    internal sealed record Extras(IReadOnlyList<string> Assets, IReadOnlyDictionary<string, double>? Validation, string? Replaces);

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> and, when <paramref name="rows"/> is given, its lineage.</summary>
    public static void Write(string path, BoostedTrees model, string tool, string? spec, TrainingRows? rows, string dataFile, string? close,
        BoostParameters parameters, Extras extras)
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
            string version = typeof(SavedModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            lineage = new ModelLineage(tool, version, spec, rows, dataFile, Convert.ToHexStringLower(dataSha), close, parameters,
                Path.GetFileName(path), Convert.ToHexStringLower(SHA256.HashData(modelBytes)))
            {
                Assets = extras.Assets, Validation = extras.Validation, Replaces = extras.Replaces,
            };
        }
        AtomicFile.Write(path, stream => stream.Write(modelBytes));
        if (lineage is not null)
        {
            AtomicFile.Write(path + ModelLineage.FileSuffix, lineage.WriteJson);
        }
    }
}
