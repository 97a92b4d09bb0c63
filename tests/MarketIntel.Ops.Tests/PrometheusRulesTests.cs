using System.Text.RegularExpressions;
using MarketIntel.Tests;
using YamlDotNet.RepresentationModel;

namespace MarketIntel.Ops.Tests;

/// <summary>The Prometheus configuration and alert rules in deploy/prometheus, checked by promtool as Prometheus would load them.</summary>
public sealed partial class PrometheusRulesTests
{
    [Fact]
    public void Promtool_finds_every_rule_file_valid()
    {
        var (exit, output) = Tools.Run("promtool", Tools.PrometheusFolder, ["check", "rules", .. Tools.RuleFiles]);
        Assert.True(exit == 0, output);
        Assert.Equal(Tools.RuleFiles.Length, Regex.Count(output, "SUCCESS"));
    }

    [Fact]
    public void Promtool_unit_tests_show_each_alert_firing_on_series_built_to_trip_it_and_quiet_on_healthy_ones()
    {
        var (exit, output) = Tools.Run("promtool", Tools.PrometheusFolder, "test", "rules", "tests/marketintel-rules-test.yml");
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_alert_has_a_test_where_it_fires_and_one_where_it_stays_quiet()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(Tools.PrometheusFolder, "tests", "marketintel-rules-test.yml")))
        {
            yaml.Load(reader);
        }
        var checks = ((YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["tests"])
            .Cast<YamlMappingNode>()
            .SelectMany(test => ((YamlSequenceNode)test["alert_rule_test"]).Cast<YamlMappingNode>())
            .Select(check => (Alert: ((YamlScalarNode)check["alertname"]).Value!, Fires: ((YamlSequenceNode)check["exp_alerts"]).Children.Count > 0))
            .ToList();
        foreach (Rule alert in Rule.All().Where(r => r.Alert is not null))
        {
            Assert.True(checks.Contains((alert.Alert!, true)), $"{alert.Alert} ({alert.File}) has no promtool test where it fires");
            Assert.True(checks.Contains((alert.Alert!, false)), $"{alert.Alert} ({alert.File}) has no promtool test where it stays quiet");
        }
    }

    [Fact]
    public void Promtool_finds_the_compose_deployments_prometheus_config_valid_with_its_rules()
    {
        // The config names the reader key's file, which the deployment writes: a copy here has a stand-in.
        string folder = Directory.CreateTempSubdirectory("mi-promconfig-").FullName;
        try
        {
            Copy(Tools.PrometheusFolder, folder);
            Directory.CreateDirectory(Path.Combine(folder, "secrets"));
            File.WriteAllText(Path.Combine(folder, "secrets", "reader.key"), "stand-in");
            var (exit, output) = Tools.Run("promtool", folder, "check", "config", "prometheus.yml");
            Assert.True(exit == 0, output);
            Assert.Contains("SUCCESS: prometheus.yml is valid prometheus config file syntax", output, StringComparison.Ordinal);
            Assert.Contains($"SUCCESS: {Tools.RuleFiles.Length} rule files found", output, StringComparison.Ordinal);
            Assert.Equal(2 + Tools.RuleFiles.Length, Regex.Count(output, "SUCCESS"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Every_alert_links_a_runbook_section_that_docs_operations_md_has()
    {
        string doc = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "operations.md"));
        var anchors = Heading().Matches(doc).Select(m => Anchor(m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);
        foreach (Rule alert in Rule.All().Where(r => r.Alert is not null))
        {
            Assert.True(alert.Annotations.TryGetValue("runbook", out string? runbook), $"{alert.Alert} has no runbook annotation");
            Assert.StartsWith("docs/operations.md#", runbook, StringComparison.Ordinal);
            string anchor = runbook["docs/operations.md#".Length..];
            Assert.True(anchors.Contains(anchor), $"{alert.Alert}: docs/operations.md has no heading with the anchor #{anchor}");
            Assert.Contains(alert.Alert!, doc, StringComparison.Ordinal);
        }
    }

    // GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped, spaces as '-'.
    private static string Anchor(string heading) =>
        new string([.. heading.Trim().ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is '-' or '_' or ' ')]).Replace(' ', '-');

    [GeneratedRegex("^#{2,4} (.+)$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    private static void Copy(string from, string to)
    {
        foreach (string dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        }
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }
}
