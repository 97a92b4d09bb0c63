using YamlDotNet.RepresentationModel;

namespace MarketIntel.Ops.Tests;

/// <summary>The rules of deploy/prometheus/rules as Prometheus reads them: recording rules and alerts with their expressions.</summary>
internal sealed record Rule(string File, string? Record, string? Alert, string Expr, IReadOnlyDictionary<string, string> Annotations)
{
    public string Name => Record ?? Alert!;

    public static IReadOnlyList<Rule> All() => [.. Tools.RuleFiles.SelectMany(Read)];

    private static IEnumerable<Rule> Read(string file)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(file))
        {
            yaml.Load(reader);
        }
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        foreach (YamlMappingNode group in ((YamlSequenceNode)root["groups"]).Cast<YamlMappingNode>())
        {
            foreach (YamlMappingNode rule in ((YamlSequenceNode)group["rules"]).Cast<YamlMappingNode>())
            {
                string? Text(string key) => rule.Children.TryGetValue(key, out var node) ? ((YamlScalarNode)node).Value : null;
                var annotations = rule.Children.TryGetValue("annotations", out var a)
                    ? ((YamlMappingNode)a).Children.ToDictionary(p => ((YamlScalarNode)p.Key).Value!, p => ((YamlScalarNode)p.Value).Value!, StringComparer.Ordinal)
                    : new Dictionary<string, string>(StringComparer.Ordinal);
                yield return new Rule(Path.GetFileName(file), Text("record"), Text("alert"), Text("expr")!, annotations);
            }
        }
    }
}
