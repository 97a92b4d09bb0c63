using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Grains.Models;

/// <summary>How the registry writes a change's audit record: what, to which model (and version), now, by whom, the detail as JSON.</summary>
internal static class RegistryAudit
{
    /// <summary>The audit record of a change to one version.</summary>
    public static ModelAuditRecord Of(ModelRef model, string action, string client, JsonObject detail) => Of(model.Name, model.Version, action, client, detail);

    /// <summary>The audit record of a change to a model name (and a version, where one is meant).</summary>
    public static ModelAuditRecord Of(string name, string? version, string action, string client, JsonObject detail) =>
        new(0, name, action, version, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            string.IsNullOrWhiteSpace(client) ? ModelAudit.LocalClient : client, detail.ToJsonString());

    /// <summary>Tags as a JSON object, for an audit detail.</summary>
    public static JsonObject Json(IEnumerable<KeyValuePair<string, string>> tags) => new(tags.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)t.Value)));
}
