using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Security.Tests;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Prediction_streams_that_are_never_read_do_not_hold_up_a_shutdown()
    {
        int[] ports = FreePorts.Pick(3);
        var app = GridServer.Build(new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:GrpcPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:SiloPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
        }, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{ports[1]}");
        var client = new Grid.GridClient(channel);
        var streams = new List<Grpc.Core.AsyncServerStreamingCall<Prediction>>();
        for (int i = 0; i < 20; i++)
        {
            var call = client.StreamPredictions(new StreamPredictionsRequest { Assets = { $"IDLE{i}" } });
            await call.ResponseHeadersAsync;
            streams.Add(call);
        }

        var clock = Stopwatch.StartNew();
        await app.StopAsync();
        clock.Stop();
        await app.DisposeAsync();
        foreach (var call in streams)
        {
            call.Dispose();
        }
        // Before, each open stream kept Kestrel waiting for its whole shutdown timeout (about 30 s).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"stopping took {clock.Elapsed.TotalSeconds:F1} s");
    }
}
