using System.Globalization;
using MarketIntel.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace MarketIntel.Server.Tests;

/// <summary>How the host is put together: settings checked whole before anything is composed, cluster mode's servers probed at start.</summary>
public sealed class GridHostingTests
{
    private static Dictionary<string, string?> ClusterOnUnreachableServers()
    {
        // Free ports nobody listens on: connections are refused at once.
        int[] ports = FreePorts.Pick(5);
        return new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:GrpcPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:SiloPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:Dashboard"] = "false",
            ["Cluster:Enabled"] = "true",
            ["Cluster:Redis"] = $"127.0.0.1:{ports[3].ToString(CultureInfo.InvariantCulture)}",
            ["Postgres:ConnectionString"] = $"Host=127.0.0.1;Port={ports[4].ToString(CultureInfo.InvariantCulture)};Username=nobody;Password=secret;Timeout=3",
        };
    }

    [Fact]
    public async Task In_cluster_mode_Build_sets_the_inline_socket_setting_and_leaves_the_servers_to_the_probes_at_start()
    {
        // The runtime reads the setting at the first socket operation only; this test clears it to see Build set it.
        Environment.SetEnvironmentVariable(GridServer.InlineCompletions, null);
        await using WebApplication app = GridServer.Build(ClusterOnUnreachableServers());
        Assert.Equal("1", Environment.GetEnvironmentVariable(GridServer.InlineCompletions));

        // The probes run before the silo joins membership: PostgreSQL is named, not a failure of Orleans' Redis membership.
        var e = await Assert.ThrowsAsync<ServerConfigurationException>(() => app.StartAsync());
        Assert.StartsWith("Postgres:ConnectionString: cannot reach PostgreSQL at Host=127.0.0.1;", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_setting_at_fault_is_named_in_one_refusal_a_value_of_the_wrong_type_included()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = "eighty",
            ["Cluster:Enabled"] = "true",
            ["Cluster:CacheFlushInterval"] = "00:05:00",
            ["Limits:MaxConnections"] = "0",
            ["Tls:KeyFile"] = "/no/such/key.pem",
            ["Models:MaxTrees"] = "0",
            ["Models:OnnxMemoryBytes"] = "1024",
            ["Grid:HistoryLength"] = "0",
            ["Grid:MaxActiveAssets"] = "0",
        }).Build();
        var e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(configuration));
        foreach (string setting in new[]
        {
            "MarketIntel:HttpPort", "Cluster:Redis must be set", "Cluster:CacheFlushInterval 00:05:00", "Postgres:ConnectionString must be set",
            "Limits:MaxConnections 0", "Tls:KeyFile is set without Tls:CertificateFile", "Models:MaxTrees must be positive",
            "Models:OnnxMemoryBytes '1024'", "Grid:HistoryLength 0", "Grid:MaxActiveAssets 0",
        })
        {
            Assert.Contains(setting, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Cluster_mode_settings_are_not_checked_on_embedded_defaults()
    {
        GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:CacheFlushInterval"] = "00:05:00",
            ["Postgres:ArchiveWriters"] = "0",
        }).Build());
    }
}
