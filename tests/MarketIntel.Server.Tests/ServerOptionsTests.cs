using MarketIntel.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace MarketIntel.Server.Tests;

public sealed class ServerOptionsTests
{
    [Theory]
    [InlineData("MarketIntel:HttpPort", "70000", "MarketIntel:HttpPort 70000 must be between 1 and 65535")]
    [InlineData("MarketIntel:GrpcPort", "5080", "MarketIntel: HttpPort and GrpcPort are both 5080")]
    [InlineData("MarketIntel:ListenAddress", "localhost:9", "MarketIntel:ListenAddress 'localhost:9' is not an IP address")]
    [InlineData("MarketIntel:Models:0", "/no/such/model.json", "model file '/no/such/model.json' does not exist")]
    [InlineData("MarketIntel:HttpPort", "eighty", "MarketIntel:HttpPort")]
    [InlineData("Grid:Features", "sma_20,nosuch_3", "Grid:Features")]
    [InlineData("Grid:HistoryLength", "0", "Grid:HistoryLength 0 must be between 1 and 1000000")]
    [InlineData("Grid:Promotion:Alpha", "0.7", "Grid:Promotion:Alpha 0.7 must be above 0 and at most 0.5")]
    [InlineData("Grid:Promotion:MinPairs", "many", "Grid:Promotion:MinPairs")]
    [InlineData("MarketIntel:Role", "gpu", "MarketIntel:Role 'gpu' is not a silo role: serving, worker or all")]
    [InlineData("MarketIntel:Role", "1", "MarketIntel:Role '1' is not a silo role: serving, worker or all")]
    [InlineData("MarketIntel:ShutdownTimeout", "00:00:00", "MarketIntel:ShutdownTimeout 00:00:00 must be between 00:00:01 and 00:10:00")]
    public void Bad_settings_stop_the_start_with_a_message_naming_them(string key, string value, string message)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        var e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(configuration));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_are_valid_and_listen_on_loopback()
    {
        var options = GridServer.ReadOptions(new ConfigurationBuilder().Build());
        Assert.Equal("127.0.0.1", options.ListenAddress);
        Assert.Equal((5080, 5081), (options.HttpPort, options.GrpcPort));
        Assert.Equal(Grains.Placement.SiloRole.All, options.SiloRole);
    }

    [Theory]
    [InlineData("serving", Grains.Placement.SiloRole.Serving)]
    [InlineData("Worker", Grains.Placement.SiloRole.Worker)]
    [InlineData("ALL", Grains.Placement.SiloRole.All)]
    public void A_role_is_read_in_any_case(string value, Grains.Placement.SiloRole role)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["MarketIntel:Role"] = value }).Build();
        Assert.Equal(role, GridServer.ReadOptions(configuration).SiloRole);
    }
}
