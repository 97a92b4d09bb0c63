using Grpc.Core;
using MarketIntel.Api.V1;

namespace MarketIntel.Server.Tests;

[Collection("server")]
public sealed class ModelSwapTests(ServerFixture server)
{
    [Fact]
    public async Task Switching_assets_to_a_new_version_under_load_fails_no_request()
    {
        var client = server.Grpc;
        var assets = Enumerable.Range(0, 8).Select(i => Bars.NewAsset($"swap{i}")).ToArray();
        foreach (string asset in assets)
        {
            await Bars.Ingest(client, asset, Bars.Range(0, 60));
        }
        string v1 = (await client.PredictAsync(new PredictRequest { Asset = assets[0] })).Version;

        int requests = 0, failures = 0;
        var versionsSeen = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (int i = worker; !stop.IsCancellationRequested; i++)
            {
                string asset = assets[i % assets.Length];
                try
                {
                    if (i % 2 == 0)
                    {
                        versionsSeen.Add((await client.PredictAsync(new PredictRequest { Asset = asset })).Version);
                    }
                    else
                    {
                        using var r = await server.Http.GetAsync(new Uri($"/predict/{asset}", UriKind.Relative));
                        if (!r.IsSuccessStatusCode)
                        {
                            Interlocked.Increment(ref failures);
                        }
                    }
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failures);
                }
                Interlocked.Increment(ref requests);
            }
        })).ToArray();

        await Task.Delay(300);
        // The same model as a new version: predictions must stay equal and report the new version.
        await client.RegisterModelAsync(new RegisterModelRequest { Name = "direction-d3-n60", Version = "v2", Model = Bars.File(ServerFixture.DirectionModel) });
        await client.AssignModelAsync(new AssignModelRequest { Assets = { assets }, Name = "direction-d3-n60", Version = "v2" });
        int atSwitch = Volatile.Read(ref requests);
        await Task.Delay(300);
        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.Equal(0, failures);
        Assert.True(requests - atSwitch > 50, $"only {requests - atSwitch} requests after the switch");
        Assert.Contains(v1, versionsSeen);
        Assert.Contains("v2", versionsSeen);
        foreach (string asset in assets)
        {
            Assert.Equal("v2", (await client.PredictAsync(new PredictRequest { Asset = asset })).Version);
        }
    }
}
