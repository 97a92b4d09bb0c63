using System.Globalization;
using MarketIntel.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// How a cluster-mode host is put together, in this process: Build touches no server, and the probes run when it
/// starts. (Here rather than in Server.Tests: every host built in a process publishes its metrics to the one
/// Prometheus registry, and a second host there would answer the first one's scrapes.)
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ClusterHostingTests
{
    [Fact]
    public async Task Build_sets_the_inline_socket_setting_and_leaves_the_servers_to_the_probes_at_start()
    {
        // Free ports nobody listens on: connections are refused at once.
        int[] ports = FreePorts.Pick(5);
        string Port(int i) => ports[i].ToString(CultureInfo.InvariantCulture);
        // The runtime reads the setting at the first socket operation only; this test clears it to see Build set it.
        Environment.SetEnvironmentVariable(GridServer.InlineCompletions, null);
        await using WebApplication app = GridServer.Build(new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = Port(0),
            ["MarketIntel:GrpcPort"] = Port(1),
            ["MarketIntel:SiloPort"] = Port(2),
            ["MarketIntel:Dashboard"] = "false",
            ["Cluster:Enabled"] = "true",
            ["Cluster:Redis"] = $"127.0.0.1:{Port(3)}",
            ["Postgres:ConnectionString"] = $"Host=127.0.0.1;Port={Port(4)};Username=nobody;Password=secret;Timeout=3",
        });
        Assert.Equal("1", Environment.GetEnvironmentVariable(GridServer.InlineCompletions));

        // The probes run before the silo joins membership: PostgreSQL is named, not a failure of Orleans' Redis membership.
        var e = await Assert.ThrowsAsync<ServerConfigurationException>(() => app.StartAsync());
        Assert.StartsWith("Postgres:ConnectionString: cannot reach PostgreSQL at Host=127.0.0.1;", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
    }
}
