using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Benchmarks;

/// <summary>
/// Puts model versions with a label (as their lineage would give it) into a built host's model store before it starts,
/// so that its registry serves them from its first activation and asset grains score them.
/// </summary>
internal static class LabelledModels
{
    /// <summary>
    /// Adds <paramref name="bytes"/> as each of <paramref name="versions"/> of <paramref name="name"/>, labelled
    /// <paramref name="label"/> (null: not scored), with <paramref name="lineage"/> where given (e.g. carrying a reference profile).
    /// </summary>
    public static void Seed(WebApplication app, string name, IEnumerable<string> versions, byte[] bytes, string? label, string? lineage = null)
    {
        var store = app.Services.GetRequiredService<IModelStore>();
        using Model model = Model.Load(bytes, name);
        foreach (string version in versions)
        {
            var info = new ModelInfo(new ModelRef(name, version), model.Kind, model.FeatureNames?.ToArray(), model.FeatureCount, model.OutputNames.ToArray(), label);
            var audit = new ModelAuditRecord(0, name, ModelAudit.Register, version, 0, ModelAudit.LocalClient, "{}");
            var stored = new StoredModel(info, bytes, 0, new Dictionary<string, string>(StringComparer.Ordinal), lineage);
            if (!store.Add(stored, audit).GetAwaiter().GetResult())
            {
                throw new InvalidOperationException($"{name}@{version} is stored already with other bytes");
            }
        }
    }
}
