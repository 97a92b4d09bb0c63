using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Server.Tests;
using Npgsql;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// Two overlapping activations of one asset (rare, during membership changes): the older one must not add bars that
/// the newer one's replay never saw. Forced here by claiming the asset as a second activation would, under a live one.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class WriterFenceTests : IDisposable
{
    private readonly Servers _servers = new();
    private SiloProcess? _silo;

    [Fact]
    public async Task An_activation_replaced_by_a_newer_claim_stores_nothing_more_and_the_newer_one_has_every_bar()
    {
        string database = _servers.MigratedDatabase("grid");
        _silo = SiloProcess.Start("fence", _servers.Redis.Endpoint, database, "--model", SiloProcess.DemoModel);
        await _silo.WaitReady(TimeSpan.FromSeconds(90));
        BarSeries walk = ClusterLoad.Walk(0);
        Assert.Equal(100, (await _silo.Ingest(ClusterLoad.Request(0, walk, 0, 100))).Accepted);

        // Another activation of the asset claims it (as one placed on another silo would, before its replay).
        await using (var data = NpgsqlDataSource.Create(database))
        await using (var claim = data.CreateCommand("UPDATE asset_writers SET epoch = epoch + 1 WHERE asset = $1"))
        {
            claim.Parameters.AddWithValue(ClusterLoad.Symbol(0));
            Assert.Equal(1, await claim.ExecuteNonQueryAsync());
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() => _silo.Ingest(ClusterLoad.Request(0, walk, 100, 200)));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("this activation was replaced by a newer one; the call's bars were not applied: resend them", refused.Status.Detail, StringComparison.Ordinal);

        // The resend reaches a new activation, which claims the asset, replays what the archive holds and goes on.
        IngestBarsReply resent = await _silo.Ingest(ClusterLoad.Request(0, walk, 100, 200));
        Assert.Equal(100, resent.Accepted);
        Assert.Equal(ClusterLoad.BarsPerAsset - 200, (await _silo.Ingest(ClusterLoad.Request(0, walk, 200, ClusterLoad.BarsPerAsset))).Accepted);
        await ClusterLoad.AssertFeaturesEqualCleanReplay(_silo, [walk], "after the stale writer");
        using var http = new HttpClient();
        var metrics = await Scrape.From(http, $"http://127.0.0.1:{_silo.HttpPort}/metrics");
        Assert.Equal(1, metrics.Value("marketintel_archive_stale_appends_total"));
    }

    public void Dispose()
    {
        _silo?.Dispose();
        _servers.Dispose();
    }
}
