using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Server.Tests;

namespace MarketIntel.Ops.Tests;

/// <summary>
/// A gRPC call's outcome travels in its grpc-status trailer of an HTTP 200: a real cluster-mode silo's request metrics
/// count each call under the status it ended with (the availability SLO's rules read that label), and HTTP/JSON
/// requests under none.
/// </summary>
[Collection(OpsGroup.Name)]
public sealed class GrpcStatusMetricsTests : IDisposable
{
    private const string Predict = "/marketintel.v1.Grid/Predict";
    private readonly List<IDisposable> _owned = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };

    private static double Calls(Scrape scrape, string grpcStatus) =>
        scrape.Value("http_requests_received_total", "code=\"200\"", "method=\"POST\"", $"endpoint=\"{Predict}\"", $"grpc_status=\"{grpcStatus}\"");

    private static async Task<StatusCode> Fails(Grid.GridClient client, string asset) =>
        (await Assert.ThrowsAsync<RpcException>(async () => await client.PredictAsync(new PredictRequest { Asset = asset }))).StatusCode;

    [Fact]
    public async Task Predict_calls_are_counted_under_OK_NOT_FOUND_and_with_PostgreSQL_down_UNAVAILABLE_and_HTTP_requests_under_none()
    {
        var cluster = await OneSiloCluster.Start();
        _owned.Add(cluster);
        var silo = cluster.Silo;
        var client = silo.Client;
        var bars = new IngestBarsRequest { Asset = "GS0" };
        for (int i = 0; i < 30; i++)
        {
            bars.Bars.Add(new Api.V1.Bar { Timestamp = 1_700_000_000_000L + (i * 60_000L), Open = 10 + i, High = 11 + i, Low = 9 + i, Close = 10.5 + i, Volume = 100 });
        }
        Assert.Equal(30, (await silo.Ingest(bars)).Accepted);
        for (int i = 0; i < 2; i++)
        {
            await client.PredictAsync(new PredictRequest { Asset = "GS0" });
        }
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(StatusCode.NotFound, await Fails(client, "NO_SUCH_ASSET"));
        }
        using (var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{silo.HttpPort}/predict/GS0")))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        Scrape scrape = await Scrape.From(_http, $"http://127.0.0.1:{silo.HttpPort}/metrics");
        Assert.Equal(2, Calls(scrape, "OK"));
        Assert.Equal(3, Calls(scrape, "NOT_FOUND"));
        // An HTTP/JSON request carries no gRPC status: an empty label, which Prometheus stores as none.
        Assert.Equal(1, scrape.Value("http_requests_received_total", "code=\"200\"", "method=\"GET\"", "endpoint=\"/predict/{asset}\"", "grpc_status=\"\""));

        // An asset that is not active must read its bars from PostgreSQL to answer: with PostgreSQL down, the server's failure.
        cluster.Postgres.Stop();
        Assert.Equal(StatusCode.Unavailable, await Fails(client, "NOT_YET_ACTIVE"));

        scrape = await Scrape.From(_http, $"http://127.0.0.1:{silo.HttpPort}/metrics");
        Assert.Equal(1, Calls(scrape, "UNAVAILABLE"));
        Assert.Equal(3, Calls(scrape, "NOT_FOUND"));
    }

    public void Dispose()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            owned.Dispose();
        }
        _http.Dispose();
    }
}
