using System.Net.Http.Headers;
using System.Text;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Server.Tests;
using MarketIntel.Tests;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Security.Tests;

/// <summary>
/// Every error a hostile client can provoke, over both APIs: no answer and no log line at Information or above
/// carries a stack trace, a path of the server's files, or a key.
/// </summary>
[Collection("auth")]
public sealed class NothingLeaksTests(AuthFixture server)
{
    private static readonly string[] Forbidden =
    [
        "   at ",                 // a stack frame
        ".cs:line",
        RepoPaths.Root,           // where the server's files are
        "/onnxruntime_src",       // ONNX Runtime's own source paths
        "Exception:",             // an exception's type and message as .NET prints them
    ];

    [Fact]
    public async Task No_error_answer_or_log_line_carries_a_stack_trace_a_server_path_or_a_key()
    {
        var answers = new List<string>();
        var client = new Grid.GridClient(server.Channel);
        var admin = AuthFixture.As(server.Keys["admin"]);
        async Task Grpc(Func<Task> call)
        {
            try
            {
                await call();
            }
            catch (RpcException e)
            {
                answers.Add($"{e.StatusCode}: {e.Status.Detail}");
            }
        }
        int before = server.Log.Count;

        await Grpc(async () => await client.PredictAsync(new PredictRequest { Asset = "X" }));
        await Grpc(async () => await client.PredictAsync(new PredictRequest { Asset = "X" }, AuthFixture.As(server.Keys["forged"])));
        await Grpc(async () => await client.RegisterModelAsync(new RegisterModelRequest { Name = "m", Version = "1" }, AuthFixture.As(server.Keys["reader"])));
        foreach (byte[] model in new[]
        {
            Encoding.UTF8.GetBytes("{\"learner\": {\"gradient_booster\": "),
            Encoding.UTF8.GetBytes("{\"learner\": 5}"),
            [0x08, 0x07, 0x12, 0x03, 0x61, 0x62],       // protobuf-looking bytes that are no ONNX model
            File.ReadAllBytes(RepoPaths.Fixture("models", "onnx-mlp-8.onnx"))[..200],
        })
        {
            await Grpc(async () => await client.RegisterModelAsync(new RegisterModelRequest { Name = "bad", Version = Guid.NewGuid().ToString("N"), Model = Google.Protobuf.ByteString.CopyFrom(model) }, admin));
        }
        await Grpc(async () => await client.AssignModelAsync(new AssignModelRequest { Assets = { "X" }, Name = "nosuch", Version = "1" }, admin));
        await Grpc(async () => await client.PushFeaturesAsync(new PushFeaturesRequest { Asset = "bad symbol" }, admin));
        await Grpc(async () => await client.GetFeaturesAsync(new GetFeaturesRequest { Asset = new string('x', 500) }, admin));

        foreach (var (method, path, body) in new[]
        {
            ("GET", "/predict/NOPE", null),
            ("PUT", "/features/X", "{not json"),
            ("PUT", "/features/X", "[1e999]"),
            ("PUT", "/features/X", "[\"a\"]"),
            ("GET", "/predict/" + Uri.EscapeDataString("a\u0000b"), null),
            ("GET", "/no/such/path", null),
        })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", server.Keys["admin"]);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }
            using var response = await server.Http.SendAsync(request);
            answers.Add($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        Assert.True(answers.Count >= 15, string.Join('\n', answers));
        var logged = server.Log.Skip(before).Where(l => l.Level >= LogLevel.Information).Select(l => $"{l.Category}: {l.Message}").ToList();
        foreach (string text in answers.Concat(logged))
        {
            foreach (string bad in Forbidden.Concat(server.Keys.Values))
            {
                Assert.False(text.Contains(bad, StringComparison.Ordinal), $"'{bad}' in: {text}");
            }
        }
    }
}
