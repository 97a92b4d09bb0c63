using System.Diagnostics;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// A silo stopped with SIGTERM (as Kubernetes stops a pod) while clients ingest, predict and hold prediction streams
/// they never read: it exits 0 within its budget, leaves the membership table at once, and loses no acknowledged bar.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ClusterShutdownTests(ITestOutputHelper output) : IDisposable
{
    private const int Assets = 16;

    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _silos = [];

    [Fact]
    public async Task A_silo_stopped_under_load_exits_cleanly_in_its_budget_leaves_the_table_and_loses_no_acknowledged_bar()
    {
        string database = _servers.MigratedDatabase("grid");
        var silos = new[] { "leaving", "staying" }.Select(n => SiloProcess.Start(n, _servers.Redis.Endpoint, database, "--model", SiloProcess.DemoModel)).ToArray();
        _silos.AddRange(silos);
        await Task.WhenAll(silos.Select(s => s.WaitReady(TimeSpan.FromSeconds(90))));
        var walks = Enumerable.Range(0, Assets).Select(ClusterLoad.Walk).ToArray();

        // Streams nobody reads, on the silo that will leave.
        using var stream = silos[0].Client.StreamPredictions(new StreamPredictionsRequest { Assets = { Enumerable.Range(0, Assets).Select(ClusterLoad.Symbol) } });

        long acknowledged = 0;
        var third = new TaskCompletionSource();
        var ingest = ClusterLoad.Ingest(silos, walks, n =>
        {
            if (Interlocked.Add(ref acknowledged, n) >= Assets * ClusterLoad.BarsPerAsset / 3)
            {
                third.TrySetResult();
            }
        });
        await Task.WhenAny(third.Task, ingest);
        Assert.True(third.Task.IsCompleted, "the ingest finished before a third of it was acknowledged");

        // Predictions of every asset from the silo that stays, throughout: the leaving silo's assets move to it.
        using var predicting = new CancellationTokenSource();
        var failures = new List<string>();
        long predicted = 0;
        var predict = Task.Run(async () =>
        {
            while (!predicting.IsCancellationRequested)
            {
                for (int a = 0; a < Assets; a++)
                {
                    try
                    {
                        await silos[1].Client.PredictAsync(new PredictRequest { Asset = ClusterLoad.Symbol(a) }, deadline: DateTime.UtcNow.AddSeconds(30));
                        Interlocked.Increment(ref predicted);
                    }
                    catch (RpcException e)
                    {
                        lock (failures)
                        {
                            failures.Add($"{ClusterLoad.Symbol(a)}: {e.StatusCode} {e.Status.Detail}");
                        }
                    }
                }
            }
        });

        var clock = Stopwatch.StartNew();
        silos[0].Terminate();
        // The budget is the default ShutdownTimeout (15 s); a loaded CI machine gets a few seconds more to start the check.
        bool exited = silos[0].WaitForExit(TimeSpan.FromSeconds(20));
        output.WriteLine($"SIGTERM to exit: {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(exited, $"the silo did not exit within 20 s of SIGTERM:\n{silos[0].Output}");
        Assert.True(silos[0].ExitCode == 0, $"exit code {silos[0].ExitCode}:\n{silos[0].Output}");
        // Dead in the membership table at once (status 6), not after the others' probes time out.
        string entry = await MembershipEntry(silos[0].Ports[2]);
        Assert.Contains("\"Status\":6", entry, StringComparison.Ordinal);

        await ingest.WaitAsync(TimeSpan.FromMinutes(4));
        await predicting.CancelAsync();
        await predict;
        output.WriteLine($"{predicted} predictions from the staying silo, {failures.Count} failed");
        Assert.True(failures.Count == 0, string.Join('\n', failures.Take(10)));
        Assert.True(predicted > 0, "no prediction was made");
        Assert.Equal((long)Assets * ClusterLoad.BarsPerAsset, acknowledged);
        await ClusterLoad.AssertArchived(database, walks);
        await ClusterLoad.AssertFeaturesEqualCleanReplay(silos[1], walks, "after the SIGTERM");
    }

    // The membership table's entry (Orleans' Redis clustering: one hash field per silo, "S{ip}:{port}:{generation}") of
    // the silo on this silo port.
    private async Task<string> MembershipEntry(int siloPort)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(_servers.Redis.Endpoint);
        var server = redis.GetServer(_servers.Redis.Endpoint);
        await foreach (var key in server.KeysAsync(pattern: "*/members/*"))
        {
            foreach (var field in await redis.GetDatabase().HashGetAllAsync(key))
            {
                if (field.Name.ToString().StartsWith($"S127.0.0.1:{siloPort}:", StringComparison.Ordinal))
                {
                    return field.Value.ToString();
                }
            }
        }
        throw new InvalidOperationException($"no membership entry for silo port {siloPort}");
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
