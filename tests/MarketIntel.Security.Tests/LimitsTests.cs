using System.Globalization;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Server.Hosting;
using MarketIntel.Server.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Security.Tests;

/// <summary>
/// Each limit tripped once against a real server with small limits: refused with RESOURCE_EXHAUSTED (429, or 413
/// for a body) and a message naming the limit and its setting, while the server goes on serving.
/// </summary>
public sealed class LimitsTests(LimitsTests.Server server) : IClassFixture<LimitsTests.Server>
{
    /// <summary>A grid on loopback (no keys) with limits small enough to reach in a test.</summary>
    public class Server : IAsyncLifetime
    {
        /// <summary>Grid:MaxActiveAssets: small only for the server whose test fills it.</summary>
        protected virtual int MaxActiveAssets => 100_000;

        private InProcessGrid? _grid;
        private GrpcChannel? _channel;

        public HttpClient Http { get; } = new();

        public Grid.GridClient Grpc { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            _grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
            {
                ["MarketIntel:Models:0"] = AuthFixture.DirectionModel,
                ["Limits:MaxAssetsPerBatch"] = "50",
                ["Limits:MaxAssetsPerStream"] = "50",
                ["Limits:MaxBarsPerMessage"] = "100",
                ["Limits:MaxBarsPerStream"] = "250",
                ["Limits:MaxPredictionStreams"] = "3",
                ["Limits:MaxRequestBodyBytes"] = "4096",
                ["Grid:MaxFeatureVectorLength"] = "100",
                ["Models:MaxTrees"] = "70",
                ["Grid:MaxActiveAssets"] = MaxActiveAssets.ToString(CultureInfo.InvariantCulture),
            });
            Http.BaseAddress = new Uri(_grid.Http(""));
            _channel = _grid.Channel();
            Grpc = new Grid.GridClient(_channel);
            await Bars.Ingest(Grpc, "LIVE", Bars.Range(0, 60));
        }

        public async Task DisposeAsync()
        {
            _channel?.Dispose();
            Http.Dispose();
            if (_grid is not null)
            {
                await _grid.DisposeAsync();
            }
        }
    }

    private Grid.GridClient Grpc => server.Grpc;

    private static async Task<RpcException> Refused(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        return e;
    }

    private async Task StillServes() => Assert.Equal("LIVE", (await Grpc.PredictAsync(new PredictRequest { Asset = "LIVE" })).Asset);

    [Fact]
    public async Task The_HTTP_body_limit_leaves_gRPC_model_uploads_to_the_gRPC_message_limit()
    {
        var model = Bars.File(AuthFixture.PushedModel);
        Assert.True(model.Length > 4096);
        var info = await Grpc.RegisterModelAsync(new RegisterModelRequest { Name = "big-enough", Version = "1", Model = model });
        Assert.Equal("big-enough", info.Name);
    }

    [Fact]
    public async Task A_model_over_a_configured_model_limit_is_refused_as_invalid()
    {
        var e = await Assert.ThrowsAsync<RpcException>(async () => await Grpc.RegisterModelAsync(new RegisterModelRequest
        {
            Name = "many-trees",
            Version = "1",
            Model = Bars.File(MarketIntel.Tests.RepoPaths.Fixture("models", "xgb-cls-d4-n80.json")),
        }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("80 trees, over the limit of 70 trees in a model", e.Status.Detail, StringComparison.Ordinal);
        await StillServes();
    }

    [Fact]
    public async Task A_batch_over_the_limit_is_refused_naming_the_setting()
    {
        var request = new PredictBatchRequest();
        request.Assets.AddRange(Enumerable.Range(0, 51).Select(i => $"B{i}"));
        var e = await Refused(async () => await Grpc.PredictBatchAsync(request));
        Assert.Equal("assets: 51 is over the limit of 50 (setting Limits:MaxAssetsPerBatch)", e.Status.Detail);
        await StillServes();
    }

    [Fact]
    public async Task Bars_over_the_message_and_the_call_limits_are_refused()
    {
        var big = await Refused(async () => await Bars.Ingest(Grpc, Bars.NewAsset("bigmsg"), Bars.Range(0, 101), perMessage: 101));
        Assert.Equal("message 1: bars: 101 is over the limit of 100 (setting Limits:MaxBarsPerMessage)", big.Status.Detail);
        var many = await Refused(async () => await Bars.Ingest(Grpc, Bars.NewAsset("bigcall"), Bars.Range(0, 249).Concat(Bars.Range(0, 2)), perMessage: 100));
        Assert.Equal("message 3: bars in this call: 251 is over the limit of 250 (setting Limits:MaxBarsPerStream)", many.Status.Detail);
        await StillServes();
    }

    [Fact]
    public async Task Streams_over_the_silo_limit_are_refused_and_a_place_frees_when_one_ends()
    {
        var open = new List<AsyncServerStreamingCall<Prediction>>();
        for (int i = 0; i < 3; i++)
        {
            var call = Grpc.StreamPredictions(new StreamPredictionsRequest { Assets = { "LIVE" } });
            await call.ResponseHeadersAsync;
            open.Add(call);
        }
        var e = await Refused(async () =>
        {
            using var fourth = Grpc.StreamPredictions(new StreamPredictionsRequest { Assets = { "LIVE" } });
            await fourth.ResponseStream.MoveNext();
        });
        Assert.Contains("(setting Limits:MaxPredictionStreams)", e.Status.Detail, StringComparison.Ordinal);
        open[0].Dispose();
        // The server frees the place once it sees the cancellation.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            using var again = Grpc.StreamPredictions(new StreamPredictionsRequest { Assets = { "LIVE" } });
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            try
            {
                await again.ResponseStream.MoveNext(wait.Token);
            }
            catch (RpcException r) when (r.StatusCode == StatusCode.Cancelled)
            {
                break;
            }
            catch (RpcException r) when (r.StatusCode == StatusCode.ResourceExhausted && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
        foreach (var call in open)
        {
            call.Dispose();
        }
        var tooMany = new StreamPredictionsRequest();
        tooMany.Assets.AddRange(Enumerable.Range(0, 51).Select(i => $"S{i}"));
        await Refused(async () =>
        {
            using var call = Grpc.StreamPredictions(tooMany);
            await call.ResponseStream.MoveNext();
        });
    }

    [Fact]
    public async Task A_body_over_the_limit_is_refused_with_413_whether_it_states_its_length_or_is_chunked()
    {
        string vector = "[" + string.Join(",", Enumerable.Repeat("1.0", 2000)) + "]";
        using (var sized = await server.Http.PutAsync(new Uri("/features/BODY", UriKind.Relative), new StringContent(vector)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, sized.StatusCode);
            Assert.Contains("is over the limit of 4096 bytes (setting Limits:MaxRequestBodyBytes)", await sized.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using var chunked = new HttpRequestMessage(HttpMethod.Put, "/features/BODY") { Content = new StreamContent(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(vector))) };
        chunked.Headers.TransferEncodingChunked = true;
        using var response = await server.Http.SendAsync(chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("the chunked body is over the limit of 4096 bytes", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await StillServes();
    }

    [Fact]
    public async Task Pushed_vectors_over_the_length_limit_or_with_infinities_are_refused_by_both_apis()
    {
        var request = new PushFeaturesRequest { Asset = "VEC" };
        request.Values.AddRange(Enumerable.Repeat(1f, 101));
        var e = await Refused(async () => await Grpc.PushFeaturesAsync(request));
        Assert.Contains("a pushed feature vector of 101 values is over the limit of 100 (setting Grid:MaxFeatureVectorLength)", e.Status.Detail, StringComparison.Ordinal);
        using (var http = await server.Http.PutAsync(new Uri("/features/VEC", UriKind.Relative), new StringContent("[" + string.Join(",", Enumerable.Repeat("1", 101)) + "]")))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, http.StatusCode);
        }
        var infinite = await Assert.ThrowsAsync<RpcException>(async () => await Grpc.PushFeaturesAsync(new PushFeaturesRequest { Asset = "VEC", Values = { 1f, float.PositiveInfinity } }));
        Assert.Equal(StatusCode.InvalidArgument, infinite.StatusCode);
        Assert.Contains("values[1] is ∞; features must be finite (NaN for missing)".Replace("∞", float.PositiveInfinity.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal), infinite.Status.Detail, StringComparison.Ordinal);
        await Grpc.PushFeaturesAsync(new PushFeaturesRequest { Asset = "VEC", Values = { 1f, float.NaN } });
    }
}

/// <summary>The active-asset limit, on a server of its own: filling it would refuse the other tests' new assets.</summary>
public sealed class ActiveAssetLimitTests(ActiveAssetLimitTests.FullServer server) : IClassFixture<ActiveAssetLimitTests.FullServer>
{
    /// <summary>The small-limits grid holding at most 40 assets.</summary>
    public sealed class FullServer : LimitsTests.Server
    {
        protected override int MaxActiveAssets => 40;
    }

    private Grid.GridClient Grpc => server.Grpc;

    private async Task StillServes() => Assert.Equal("LIVE", (await Grpc.PredictAsync(new PredictRequest { Asset = "LIVE" })).Asset);

    [Fact]
    public async Task A_client_inventing_assets_is_refused_at_the_silo_limit_and_known_assets_go_on()
    {
        RpcException? refused = null;
        for (int i = 0; i < 100 && refused is null; i++)
        {
            try
            {
                await Grpc.PushFeaturesAsync(new PushFeaturesRequest { Asset = $"NEW{i}", Values = { 1f } });
            }
            catch (RpcException e)
            {
                refused = e;
            }
        }
        Assert.NotNull(refused);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("over the limit of 40 (setting Grid:MaxActiveAssets)", refused.Status.Detail, StringComparison.Ordinal);
        await StillServes();
        await Grpc.PushFeaturesAsync(new PushFeaturesRequest { Asset = "NEW0", Values = { 2f } });
    }
}

/// <summary>Slowloris: clients that trickle their headers are cut off, and the others are served meanwhile.</summary>
public sealed class SlowClientTests
{
    [Fact]
    public async Task Connections_that_never_finish_their_headers_are_closed_after_the_timeout_while_others_are_served()
    {
        await using var grid = await InProcessGrid.StartAsync(new Dictionary<string, string?> { ["Limits:RequestHeadersTimeout"] = "00:00:01" });
        var slow = new List<System.Net.Sockets.Socket>();
        try
        {
            for (int i = 0; i < 50; i++)
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(System.Net.IPAddress.Loopback, grid.HttpPort);
                await socket.SendAsync("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "u8.ToArray());
                slow.Add(socket);
            }
            using var http = new HttpClient();
            Assert.Equal("ok\n", await http.GetStringAsync(new Uri(grid.Http("/healthz"))));

            // Each slow connection is answered (408) and closed by the server within a few seconds.
            var buffer = new byte[4096];
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            foreach (var socket in slow)
            {
                int n;
                do
                {
                    n = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, wait.Token);
                }
                while (n > 0);
            }
            Assert.False(wait.IsCancellationRequested);
        }
        finally
        {
            foreach (var socket in slow)
            {
                socket.Dispose();
            }
        }
    }
}

/// <summary>A prediction stream whose client never reads is cut off once it has stalled with predictions waiting.</summary>
public sealed class StalledStreamTests
{
    [Fact]
    public async Task A_stream_client_that_stops_reading_is_cut_off_and_others_are_served()
    {
        await using var grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["MarketIntel:Models:0"] = AuthFixture.DirectionModel,
            ["Limits:StreamBufferPredictions"] = "10",
            ["Limits:StreamStallTimeout"] = "00:00:01",
        });
        using var channel = grid.Channel();
        var client = new Grid.GridClient(channel);
        using var stalled = client.StreamPredictions(new StreamPredictionsRequest { Assets = { "STALL" } });
        await stalled.ResponseHeadersAsync;

        // Far more predictions than the client's HTTP/2 window and the buffer hold, spread over more than the
        // stall timeout, one bar a message so that each is published apart.
        var deadline = DateTime.UtcNow.AddSeconds(3);
        int sent = 0;
        while (DateTime.UtcNow < deadline || sent < 3000)
        {
            await Bars.Ingest(client, "STALL", Bars.Range(sent % 249, 1).Select(b => { b.Timestamp = Bars.Timestamp(0) + sent * 60_000L; return b; }), perMessage: 1);
            sent++;
            if (sent > 20_000)
            {
                break;
            }
        }

        // The server ends the stream: with the client's window shut it can send no status, so the stream is reset
        // (CANCELLED or INTERNAL at the client, by how Kestrel aborts it) unless the window opened in time for the
        // RESOURCE_EXHAUSTED trailers. The stall counter says which stream it was and why.
        int read = 0;
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stalled.ResponseStream.MoveNext(wait.Token))
            {
                read++;
            }
        });
        Assert.False(wait.IsCancellationRequested, "the stream was not ended by the server");
        Assert.Contains(e.StatusCode, new[] { StatusCode.Cancelled, StatusCode.Internal, StatusCode.ResourceExhausted });
        Assert.True(read < sent, $"read {read} of {sent}");
        string metrics = await new HttpClient().GetStringAsync(new Uri(grid.Http("/metrics")));
        Assert.Contains("marketintel_stream_stalled_total 1", metrics, StringComparison.Ordinal);
        Assert.Equal("STALL", (await client.PredictAsync(new PredictRequest { Asset = "STALL" })).Asset);
    }
}
