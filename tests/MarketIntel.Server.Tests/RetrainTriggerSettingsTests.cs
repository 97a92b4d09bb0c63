using MarketIntel.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace MarketIntel.Server.Tests;

/// <summary>The host reads Grid:Retraining:Triggers for the watch's triggers beside the drift alarm's switch, and checks it at start.</summary>
public sealed class RetrainTriggerSettingsTests
{
    [Fact]
    public void The_watchs_settings_and_the_drift_switch_share_their_section_and_bad_ones_stop_the_start_by_name()
    {
        GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Grid:Retraining:Triggers:Drift"] = "false",
            ["Grid:Retraining:Triggers:ScanEvery"] = "00:01:00",
            ["Grid:Retraining:Triggers:ScoreDecay:Below"] = "0.5",
            ["Grid:Retraining:Triggers:BarVolume"] = "10000",
        }).Build());

        var e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Grid:Retraining:Triggers:Drift"] = "false",
            ["Grid:Retraining:Triggers:ScanEvery"] = "00:00:00.500",
            ["Grid:Retraining:Triggers:ScoreDecay:Below"] = "2",
        }).Build()));
        Assert.Contains("Grid:Retraining:Triggers:ScanEvery 00:00:00.5000000 must be between 00:00:01", e.Message, StringComparison.Ordinal);
        Assert.Contains("Grid:Retraining:Triggers:ScoreDecay:Below 2 must be an accuracy above 0 and at most 1", e.Message, StringComparison.Ordinal);

        // A value of the wrong type is named by the binder, with its key.
        e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Grid:Retraining:Triggers:DriftingAssets"] = "many",
        }).Build()));
        Assert.Contains("'many'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Grid:Retraining:Triggers:DriftingAssets", e.Message, StringComparison.Ordinal);
    }
}
