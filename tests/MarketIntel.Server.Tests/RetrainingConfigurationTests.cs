using MarketIntel.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace MarketIntel.Server.Tests;

/// <summary>The host reads the retraining settings from Grid:Retraining and refuses to start on bad ones, naming each.</summary>
public sealed class RetrainingConfigurationTests
{
    [Fact]
    public void The_retraining_settings_are_read_from_their_section_and_checked_at_start()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Grid:Retraining:Folds"] = "1",
            ["Grid:Retraining:EmbeddedArchiveBars"] = "-5",
            ["Grid:Retraining:CheckInterval"] = "02:00:00",
        }).Build();
        var e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(configuration));
        foreach (string setting in new[]
        {
            "Grid:Retraining:Folds 1 must be between 2 and 100", "Grid:Retraining:EmbeddedArchiveBars -5 must be between 0 (none kept)",
            "Grid:Retraining:CheckInterval 02:00:00 must be between 00:00:00.010 and 01:00:00",
        })
        {
            Assert.Contains(setting, e.Message, StringComparison.Ordinal);
        }
        GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Grid:Retraining:Folds"] = "6",
            ["Grid:Retraining:MinimumInterval"] = "00:00:00",
        }).Build());
    }
}
