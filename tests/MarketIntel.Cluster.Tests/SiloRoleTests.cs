using System.Diagnostics;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Server.Tests;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// Silo roles with real processes, PostgreSQL and Redis: a serving and a worker silo, bars sent through the worker's
/// API for many assets. Where each asset grain lives is read from each silo's own <c>marketintel_active_assets</c>.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class SiloRoleTests : IDisposable
{
    private const int Assets = 16;
    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _silos = [];

    private SiloProcess Start(string name, string database, params string[] extra)
    {
        var silo = SiloProcess.Start(name, _servers.Redis.Endpoint, database, extra);
        _silos.Add(silo);
        return silo;
    }

    [Fact]
    public async Task Bars_sent_through_a_worker_activate_asset_grains_only_on_the_serving_silo_and_without_one_are_refused_as_waiting()
    {
        string database = _servers.MigratedDatabase("roles");
        var serving = Start("serving", database, "--role", "serving", "--model", SiloProcess.DemoModel);
        var worker = Start("worker", database, "--role", "worker");
        await Task.WhenAll(serving.WaitReady(TimeSpan.FromSeconds(90)), worker.WaitReady(TimeSpan.FromSeconds(90)));
        Assert.Contains("role: worker (jobs;", worker.Output, StringComparison.Ordinal);
        Assert.Contains("role: serving (asset grains and predictions;", serving.Output, StringComparison.Ordinal);
        // The worker shows the device it advertises to the cluster for jobs; the serving silo runs none.
        Assert.Contains($"; device cpu:{Environment.ProcessorCount}, ", worker.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("; device cpu:", serving.Output, StringComparison.Ordinal);

        // Every call goes to the worker; one refused while it has not yet learnt the serving silo's role is sent again.
        var walks = Enumerable.Range(0, Assets).Select(ClusterLoad.Walk).ToArray();
        await ClusterLoad.Ingest((_, _) => worker, walks, _ => { }, TimeSpan.Zero);

        using var http = new HttpClient();
        async Task<double> ActiveAssets(SiloProcess silo) =>
            (await Scrape.From(http, $"http://127.0.0.1:{silo.HttpPort}/metrics")).Value("marketintel_active_assets");
        Assert.Equal(Assets, await ActiveAssets(serving));
        Assert.Equal(0, await ActiveAssets(worker));
        // The worker's API still answers predictions: the grain it calls lives on the serving silo.
        var prediction = await worker.Client.PredictAsync(new PredictRequest { Asset = ClusterLoad.Symbol(0) }, deadline: DateTime.UtcNow.AddSeconds(10));
        Assert.NotEmpty(prediction.Values);

        // With the serving silo gone, a new asset's bars are refused as waiting for one, never placed on the worker.
        serving.Stop(TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();
        RpcException refused;
        while (true)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"bars for a new asset were never refused:\n{worker.Output}");
            try
            {
                await worker.Ingest(ClusterLoad.Request(Assets, ClusterLoad.Walk(Assets), 0, 10), TimeSpan.FromSeconds(10));
                Assert.Fail("a worker alone accepted bars: it placed an asset grain on itself");
            }
            catch (RpcException e) when (e.Message.Contains("no serving silo in the cluster", StringComparison.Ordinal))
            {
                refused = e;
                break;
            }
            catch (RpcException)
            {
                // The stopped silo is still listed as a member for a moment: calls to it fail otherwise.
                await Task.Delay(250);
            }
        }
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("--role serving", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, await ActiveAssets(worker));
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
