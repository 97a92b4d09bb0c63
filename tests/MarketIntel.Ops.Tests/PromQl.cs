using System.Text.Json;
using System.Text.RegularExpressions;
using MarketIntel.Tests;

namespace MarketIntel.Ops.Tests;

/// <summary>
/// Every PromQL expression the operations files hold (each dashboard panel's targets, each rule), and what each names:
/// the metrics it selects, the label names its matchers use and the labels it groups by. A small reading of PromQL, enough
/// for the expressions written here: string literals and range durations are set aside first, since a label value such as
/// "/predict/{asset}" holds braces.
/// </summary>
internal static partial class PromQl
{
    /// <summary>Where an expression comes from, and the expression itself.</summary>
    public sealed record Expression(string Source, string Query, bool IsAlert)
    {
        /// <summary>The expression as Prometheus runs it: Grafana's $__rate_interval as a fixed window.</summary>
        public string Runnable => Query.Replace("$__rate_interval", "1m", StringComparison.Ordinal);
    }

    /// <summary>One selected metric and the label names its matchers use.</summary>
    public sealed record Selector(string Metric, IReadOnlyList<string> Labels);

    public static IReadOnlyList<string> DashboardFiles =>
        [.. Directory.GetFiles(Path.Combine(RepoPaths.Root, "dashboards"), "*.json").Order(StringComparer.Ordinal)];

    public static IEnumerable<Expression> FromDashboards()
    {
        foreach (string file in DashboardFiles)
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            foreach (JsonElement panel in json.RootElement.GetProperty("panels").EnumerateArray())
            {
                if (!panel.TryGetProperty("targets", out JsonElement targets))
                {
                    continue;
                }
                foreach (JsonElement target in targets.EnumerateArray())
                {
                    yield return new Expression($"{Path.GetFileName(file)}: {panel.GetProperty("title").GetString()} ({target.GetProperty("refId").GetString()})",
                        target.GetProperty("expr").GetString()!, IsAlert: false);
                }
            }
        }
    }

    public static IEnumerable<Expression> FromRules() =>
        Rule.All().Select(r => new Expression($"{r.File}: {r.Name}", r.Expr, IsAlert: r.Alert is not null));

    /// <summary>The metrics an expression selects, with their matchers' label names.</summary>
    public static IReadOnlyList<Selector> Selectors(string query)
    {
        string bare = Bare(query);
        var selectors = new List<Selector>();
        foreach (Match m in Identifier().Matches(bare))
        {
            string name = m.Groups["name"].Value;
            if (m.Groups["call"].Success || Keywords.Contains(name))
            {
                continue;
            }
            var labels = m.Groups["matchers"].Success
                ? [.. LabelName().Matches(m.Groups["matchers"].Value).Select(l => l.Groups[1].Value)]
                : new List<string>();
            selectors.Add(new Selector(name, labels));
        }
        return selectors;
    }

    /// <summary>The labels an expression groups or matches by (<c>by (...)</c>, <c>without (...)</c>, <c>on (...)</c>, <c>ignoring (...)</c>).</summary>
    public static IReadOnlyList<string> Grouping(string query) =>
        [.. GroupingClause().Matches(Strings().Replace(query, "\"\"")).SelectMany(m => m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))];

    // String literals emptied, range and offset durations and grouping clauses removed.
    private static string Bare(string query)
    {
        string bare = Strings().Replace(query, "\"\"");
        bare = Range().Replace(bare, "");
        return GroupingClause().Replace(bare, "");
    }

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan",
    };

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Range();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")]
    private static partial Regex GroupingClause();

    [GeneratedRegex(@"(?<![\w:.])(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:(?<call>\()|(?<matchers>\{[^}]*\}))?")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")]
    private static partial Regex LabelName();
}
