using MarketIntel.Server.Tests;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// Bounded recovery: an asset keeps feature-state checkpoints in the archive, and its next activation (here on a new
/// silo after the first was killed) continues from the latest one, reading only the bars after it, with features
/// equal to a clean replay of every bar.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class CheckpointRecoveryTests : IDisposable
{
    private const int EveryBars = 400;
    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _silos = [];

    private SiloProcess Start(string name, string database)
    {
        var silo = SiloProcess.Start(name, _servers.Redis.Endpoint, database,
            new Dictionary<string, string> { ["Grid__CheckpointEveryBars"] = $"{EveryBars}" }, "--model", SiloProcess.DemoModel);
        _silos.Add(silo);
        return silo;
    }

    [Fact]
    public async Task An_activation_after_a_crash_continues_from_the_latest_checkpoint_and_equals_a_full_replay()
    {
        string database = _servers.MigratedDatabase("grid");
        var first = Start("first", database);
        await first.WaitReady(TimeSpan.FromSeconds(90));
        var walks = new[] { ClusterLoad.Walk(0) };
        await ClusterLoad.Ingest([first], walks, _ => { });

        // Checkpoints are written off the bars' path: wait for the last one due (1,500 bars: after 1,200).
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        double saved = 0;
        while (saved < ClusterLoad.BarsPerAsset / EveryBars && DateTime.UtcNow < deadline)
        {
            saved = (await Scrape.From(http, $"http://127.0.0.1:{first.HttpPort}/metrics")).Value("marketintel_asset_checkpoints_total");
            await Task.Delay(100);
        }
        Assert.True(saved >= 1, "no checkpoint was written");
        first.Kill();

        var second = Start("second", database);
        await second.WaitReady(TimeSpan.FromSeconds(90));
        await ClusterLoad.AssertFeaturesEqualCleanReplay(second, walks, "after continuing from a checkpoint");
        var metrics = await Scrape.From(http, $"http://127.0.0.1:{second.HttpPort}/metrics");
        Assert.Equal(1, metrics.Value("marketintel_asset_replays_from_checkpoint_total"));
        // Only the bars after the latest checkpoint were read back (fewer than one checkpoint interval).
        Assert.InRange(metrics.Value("marketintel_asset_replayed_bars_total"), 0, EveryBars - 1);
    }

    public void Dispose()
    {
        foreach (var silo in _silos)
        {
            silo.Dispose();
        }
        _servers.Dispose();
    }
}
