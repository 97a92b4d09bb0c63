using System.Diagnostics;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using Xunit.Abstractions;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// A power cut: every silo of a cluster SIGKILLed, so the membership table still lists them all as active. Whatever
/// part of the cluster comes back must serve within 30 s, without an operator editing Redis, and with Orleans'
/// membership settings as the server sets them (not the fast failure detection the other cluster tests use).
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ClusterCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Assets = 6;
    private static readonly TimeSpan Goal = TimeSpan.FromSeconds(30);

    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _silos = [];

    private SiloProcess Start(string name, string database, int[]? ports = null)
    {
        var silo = SiloProcess.Start(name, _servers.Redis.Endpoint, database, ports, fastDetection: false, "--model", SiloProcess.DemoModel);
        _silos.Add(silo);
        return silo;
    }

    // A cluster of three that took bars for a few assets, then lost power.
    private async Task<(SiloProcess[] Crashed, BarSeries[] Walks)> CrashedCluster(string database)
    {
        var silos = new[] { "one", "two", "three" }.Select(n => Start(n, database)).ToArray();
        await Task.WhenAll(silos.Select(s => s.WaitReady(TimeSpan.FromSeconds(90))));
        var walks = Enumerable.Range(0, Assets).Select(ClusterLoad.Walk).ToArray();
        await ClusterLoad.Ingest(silos, walks, _ => { });
        foreach (var silo in silos)
        {
            silo.Kill();
        }
        return (silos, walks);
    }

    [Theory]
    [InlineData("the same ports")]
    [InlineData("a new port")]
    public async Task A_lone_silo_restarted_after_the_whole_cluster_crashed_serves_within_30_s(string where)
    {
        string database = _servers.MigratedDatabase("grid");
        var (crashed, sent) = await CrashedCluster(database);
        var clock = Stopwatch.StartNew();
        var survivor = Start("survivor", database, where == "the same ports" ? crashed[0].Ports : null);
        await ServesEveryAsset(survivor, sent, clock);
        output.WriteLine($"{where}: serving {clock.Elapsed.TotalSeconds:0.0} s after the restart");
        Assert.True(clock.Elapsed < Goal, $"the restarted silo served only after {clock.Elapsed.TotalSeconds:0.0} s:\n{survivor.Output}");
    }

    // Waits until the silo answers a prediction of every asset, and checks the features are what the archive rebuilds.
    private static async Task ServesEveryAsset(SiloProcess silo, BarSeries[] walks, Stopwatch clock)
    {
        while (true)
        {
            Assert.False(silo.HasExited, $"the silo exited:\n{silo.Output}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"not serving after 3 minutes:\n{silo.Output}");
            try
            {
                for (int a = 0; a < Assets; a++)
                {
                    await silo.Client.PredictAsync(new PredictRequest { Asset = ClusterLoad.Symbol(a) }, deadline: DateTime.UtcNow.AddSeconds(5));
                }
                break;
            }
            catch (RpcException)
            {
                await Task.Delay(250);
            }
            catch (HttpRequestException)
            {
                await Task.Delay(250);
            }
        }
        await ClusterLoad.AssertFeaturesEqualCleanReplay(silo, walks, "after the crash");
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
