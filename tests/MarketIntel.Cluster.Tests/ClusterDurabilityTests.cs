using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Tests;
using Npgsql;
using Xunit.Abstractions;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// The durability promise with real servers and real silo processes: three silos on loopback sharing one Redis
/// and one PostgreSQL, bars for many assets streamed through gRPC IngestBars, one silo SIGKILLed mid-stream.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ClusterDurabilityTests(ITestOutputHelper output) : IDisposable
{
    private const int Assets = 24;
    private const int BarsPerAsset = ClusterLoad.BarsPerAsset;

    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _silos = [];

    private async Task<SiloProcess[]> StartSilos(string database, params string[] names)
    {
        var started = names.Select(n => SiloProcess.Start(n, _servers.Redis.Endpoint, database, "--model", SiloProcess.DemoModel)).ToArray();
        _silos.AddRange(started);
        await Task.WhenAll(started.Select(s => s.WaitReady(TimeSpan.FromSeconds(90))));
        return started;
    }

    [Fact]
    public async Task A_silo_killed_mid_ingest_loses_no_acknowledged_bar_and_a_full_restart_brings_every_asset_back()
    {
        string database = _servers.MigratedDatabase("grid");
        var silos = await StartSilos(database, "silo1", "silo2", "silo3");
        var walks = Enumerable.Range(0, Assets).Select(ClusterLoad.Walk).ToArray();
        long acknowledged = 0;
        var killed = new TaskCompletionSource();
        var clock = Stopwatch.StartNew();
        var ingest = ClusterLoad.Ingest(silos, walks, n =>
        {
            if (Interlocked.Add(ref acknowledged, n) >= Assets * BarsPerAsset / 3)
            {
                killed.TrySetResult();
            }
        });
        await Task.WhenAny(killed.Task, ingest);
        Assert.True(killed.Task.IsCompleted, "the ingest finished before a third of it was acknowledged");
        silos[1].Kill();
        output.WriteLine($"killed silo2 after {Interlocked.Read(ref acknowledged)} acknowledged bars, {clock.Elapsed.TotalSeconds:0.0} s in");
        int resent = await ingest.WaitAsync(TimeSpan.FromMinutes(4));
        output.WriteLine($"ingest done in {clock.Elapsed.TotalSeconds:0.0} s, {resent} calls resent");
        Assert.Equal((long)Assets * BarsPerAsset, acknowledged);
        Assert.True(resent > 0, "no call failed: the kill did not hit the ingest");

        // Every acknowledged bar is in PostgreSQL exactly once.
        await ClusterLoad.AssertArchived(database, walks);

        // The assets that lived on the killed silo were reactivated elsewhere from the archive.
        await ClusterLoad.AssertFeaturesEqualCleanReplay(silos[0], walks, "after the kill");

        // What the archive cannot rebuild is grain state: a model registered through the API, an assignment and a
        // pushed vector (the model reads 10 pushed features, not computed ones).
        var client = silos[2].Client;
        await client.RegisterModelAsync(new RegisterModelRequest
        {
            Name = "pushed", Version = "v1",
            Model = Google.Protobuf.ByteString.CopyFrom(File.ReadAllBytes(Path.Combine(RepoPaths.Root, "tests", "fixtures", "models", "xgb-cls-d4-n80.json"))),
        });
        await client.AssignModelAsync(new AssignModelRequest { Assets = { "P1" }, Name = "pushed", Version = "v1" });
        await client.PushFeaturesAsync(new PushFeaturesRequest { Asset = "P1", Values = { 0.1f, -1f, 2f, 0.5f, 3f, -0.2f, 0f, 1.5f, -3f, 0.7f } });
        Prediction before = await client.PredictAsync(new PredictRequest { Asset = "P1" });
        Assert.Equal("pushed", before.Model);

        // Whole-cluster restart: every asset comes back with the same features, the pushed asset with its model and vector.
        silos[0].Stop(TimeSpan.FromSeconds(30));
        silos[2].Stop(TimeSpan.FromSeconds(30));
        var restarted = await StartSilos(database, "silo4", "silo5");
        await ClusterLoad.AssertFeaturesEqualCleanReplay(restarted[1], walks, "after the restart");
        Prediction after = await restarted[0].Client.PredictAsync(new PredictRequest { Asset = "P1" });
        Assert.Equal((before.Model, before.Version, before.Value, before.AsOf), (after.Model, after.Version, after.Value, after.AsOf));
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
