using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Grains.Models;

/// <summary>
/// How each model name is deployed (aliases, splits, shadows, epoch) as the registry grain holds it, and the changes
/// a deployment takes, each a function from the deployment before to the one after that fills in its audit detail.
/// A change that changes nothing answers the deployment it was given (the grain then neither stores nor audits it).
/// Used from the registry grain's turns only.
/// </summary>
internal sealed class RegistryDeployments
{
    private Dictionary<string, ModelDeployment> _deployments = new(StringComparer.Ordinal);

    /// <summary>Replaces what is held with the store's deployments.</summary>
    public void Load(IReadOnlyList<ModelDeployment> deployments) => _deployments = deployments.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>A model name's deployment (empty when it has none).</summary>
    public ModelDeployment Of(string name) =>
        _deployments.TryGetValue(name, out ModelDeployment? deployment) ? deployment : ModelDeployment.Empty(name);

    /// <summary>Holds a deployment the store has just written.</summary>
    public void Set(ModelDeployment deployment) => _deployments[deployment.Name] = deployment;

    /// <summary>
    /// Points an alias at a version, ending its split and keeping its automatic-promotion policy; the audit detail
    /// says where it pointed before.
    /// </summary>
    public static ModelDeployment MoveAlias(ModelDeployment deployment, string alias, string version, JsonObject detail)
    {
        AliasTarget? before = deployment.Aliases.GetValueOrDefault(alias);
        detail["from"] = before?.Version;
        return deployment with { Aliases = With(deployment.Aliases, alias, new AliasTarget(version, null, before?.AutoPromote ?? false)) };
    }

    /// <summary>Moves an alias to a promoted challenger, which stops being a shadow.</summary>
    public static ModelDeployment Promote(ModelDeployment deployment, string alias, string challenger, JsonObject detail) =>
        MoveAlias(deployment, alias, challenger, detail) with { Shadows = deployment.Shadows.Where(v => v != challenger).ToArray() };

    /// <summary>Removes an alias (NOT_FOUND when there is none); the audit detail says where it pointed.</summary>
    public static ModelDeployment RemoveAlias(ModelDeployment deployment, string alias, JsonObject detail)
    {
        detail["from"] = deployment.Aliases.TryGetValue(alias, out AliasTarget? target) ? target.Version
            : throw new GridException(GridErrorKind.NotFound, $"model '{deployment.Name}' has no alias '{alias}'");
        return deployment with { Aliases = deployment.Aliases.Where(a => a.Key != alias).ToDictionary(StringComparer.Ordinal) };
    }

    /// <summary>Sets or ends an alias's split (FAILED_PRECONDITION when the alias is not set).</summary>
    public static ModelDeployment Split(ModelDeployment deployment, string alias, ArmSplit? split) =>
        deployment.Aliases.TryGetValue(alias, out AliasTarget? target)
            ? deployment with { Aliases = With(deployment.Aliases, alias, target with { Split = split }) }
            : throw new GridException(GridErrorKind.FailedPrecondition, $"model '{deployment.Name}' has no alias '{alias}' to split; set it first");

    /// <summary>Sets an alias's automatic-promotion policy (FAILED_PRECONDITION when the alias is not set).</summary>
    public static ModelDeployment AutoPromote(ModelDeployment deployment, string alias, bool autoPromote) =>
        deployment.Aliases.TryGetValue(alias, out AliasTarget? target)
            ? target.AutoPromote == autoPromote ? deployment : deployment with { Aliases = With(deployment.Aliases, alias, target with { AutoPromote = autoPromote }) }
            : throw new GridException(GridErrorKind.FailedPrecondition, $"model '{deployment.Name}' has no alias '{alias}'; set it first");

    /// <summary>Makes a version a shadow (added last) or stops it being one.</summary>
    public static ModelDeployment Shadow(ModelDeployment deployment, string version, bool shadow) =>
        shadow == deployment.Shadows.Contains(version) ? deployment
            : deployment with { Shadows = shadow ? [.. deployment.Shadows, version] : deployment.Shadows.Where(v => v != version).ToArray() };

    /// <summary>Refuses an alias name that is blank, holds white space or '@'.</summary>
    public static void CheckAliasName(string name, string alias)
    {
        if (string.IsNullOrWhiteSpace(alias) || alias.Contains(ModelRef.AliasMark, StringComparison.Ordinal) || alias.Any(char.IsWhiteSpace))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': alias '{alias}' must be non-empty, without white space and without '{ModelRef.AliasMark}'");
        }
    }

    /// <summary>Refuses a split weight outside (0, 1).</summary>
    public static void CheckSplitWeight(string name, string alias, ArmSplit split)
    {
        if (!(split.Weight is > 0 and < 1))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}' alias '{alias}': split weight {split.Weight} must be between 0 and 1 (exclusive)");
        }
    }

    private static Dictionary<string, AliasTarget> With(IReadOnlyDictionary<string, AliasTarget> aliases, string alias, AliasTarget target) =>
        new(aliases, StringComparer.Ordinal) { [alias] = target };
}
