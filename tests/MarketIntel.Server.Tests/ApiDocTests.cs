using System.Text.RegularExpressions;
using MarketIntel.Server.Hosting;
using MarketIntel.Tests;

namespace MarketIntel.Server.Tests;

/// <summary>docs/api.md's examples show what <c>serve --model</c> really answers.</summary>
public sealed partial class ApiDocTests
{
    [Fact]
    public void Example_model_names_and_versions_are_what_serve_model_registers()
    {
        string doc = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "api.md"));
        var examples = ModelExample().Matches(doc);
        Assert.NotEmpty(examples);
        foreach (Match example in examples)
        {
            string name = example.Groups["name"].Value;
            // The example's model is the bundled one serve --model would be given.
            string file = Path.Combine(RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData", name + ".json");
            Assert.True(File.Exists(file), $"docs/api.md shows model '{name}', which is not a bundled model file name");
            var registered = ModelBootstrap.ModelFor(file, File.ReadAllBytes(file));
            Assert.Equal(registered.Name, name);
            Assert.Equal(registered.Version, example.Groups["version"].Value);
        }
    }

    [Fact]
    public void The_index_points_to_metrics_on_their_own_port_and_leaves_out_a_dashboard_that_is_off()
    {
        var index = Api.HttpApi.Index(new ServerOptions { MetricsPort = 9464, Dashboard = false, GrpcPort = 6001 });
        Assert.Equal(":9464/metrics", index.Metrics);
        Assert.Null(index.Dashboard);
        Assert.Equal(6001, index.GrpcPort);
    }

    [GeneratedRegex("\"model\":\"(?<name>[^\"]+)\",\"version\":\"(?<version>[^\"]+)\"")]
    private static partial Regex ModelExample();
}
