using Google.Protobuf;
using MarketIntel.Api.V1;
using MarketIntel.LoadTest;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// The load test's HTTP/2 gRPC client reads statuses from header blocks coded against the static table, and the
/// protobuf it writes and reads by hand is what the generated code writes and reads.
/// </summary>
public sealed class GrpcH2Tests
{
    private static byte[] Bytes(params object[] parts) => parts.SelectMany(p => p switch
    {
        int b => new[] { (byte)b },
        string s => new[] { (byte)s.Length }.Concat(System.Text.Encoding.ASCII.GetBytes(s)),
        _ => throw new ArgumentException("int or string"),
    }).ToArray();

    [Fact]
    public void An_indexed_status_and_a_literal_grpc_status_are_read()
    {
        // :status 200 (static index 8); content-type by indexed name 31 without indexing; grpc-status as a literal
        // name with incremental indexing (allowed, the table just stays empty).
        byte[] block = Bytes(0x88, 0x0F, 0x10, "application/grpc", 0x40, "grpc-status", "0");
        Assert.Equal((200, 0), Http2Frames.DecodeHeaders(block));
    }

    [Fact]
    public void Trailers_only_errors_and_never_indexed_fields_are_read()
    {
        // :status by indexed name (13 = 404's entry) with value 200, a table size update, then grpc-status 5 never indexed.
        byte[] block = Bytes(0x20, 0x0D, "200", 0x10, "grpc-status", "5", 0x00, "grpc-message", "asset X has no bars");
        Assert.Equal((200, 5), Http2Frames.DecodeHeaders(block));
    }

    [Fact]
    public void A_header_block_without_statuses_leaves_them_unknown()
    {
        Assert.Equal((0, -1), Http2Frames.DecodeHeaders(Bytes(0x00, "x-other", "1")));
    }

    [Theory]
    [InlineData(new byte[] { 0xBE })]                                                   // dynamic table index 62
    [InlineData(new byte[] { 0x00, 11, (byte)'g', (byte)'r', (byte)'p', (byte)'c', (byte)'-', (byte)'s', (byte)'t', (byte)'a', (byte)'t', (byte)'u', (byte)'s', 0x81, 0x00 })]  // Huffman-coded grpc-status
    [InlineData(new byte[] { 0x00, 0x05, (byte)'a' })]                                  // a string past the block's end
    [InlineData(new byte[] { 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF })]                     // an integer that never ends
    public void Blocks_this_client_cannot_read_are_bad_responses_not_guesses(byte[] block)
    {
        Assert.Throws<BadResponseException>(() => Http2Frames.DecodeHeaders(block));
    }

    [Fact]
    public void The_request_header_block_is_post_http_path_authority_grpc_content_type_and_te()
    {
        byte[] block = Http2Frames.HeaderBlock("/marketintel.v1.Grid/Predict", "127.0.0.1:5081");
        byte[] expected = Bytes(0x83, 0x86, 0x04, "/marketintel.v1.Grid/Predict", 0x01, "127.0.0.1:5081", 0x0F, 0x10, "application/grpc", 0x00, "te", "trailers");
        Assert.Equal(expected, block);
    }

    [Fact]
    public void Over_tls_the_request_header_block_says_scheme_https_since_kestrel_refuses_a_scheme_its_connection_lacks()
    {
        byte[] block = Http2Frames.HeaderBlock("/marketintel.v1.Grid/Predict", "127.0.0.1:5081", tls: true);
        byte[] expected = Bytes(0x83, 0x87, 0x04, "/marketintel.v1.Grid/Predict", 0x01, "127.0.0.1:5081", 0x0F, 0x10, "application/grpc", 0x00, "te", "trailers");
        Assert.Equal(expected, block);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(300)]
    public void Requests_written_by_hand_are_the_generated_messages_for_the_assets_picked(int batch)
    {
        // Symbols of up to 200 bytes: lengths on both sides of 127, past which a length takes a second varint byte.
        string[] symbols = [.. Enumerable.Range(0, 400).Select(i => new string((char)('A' + i % 26), i % 200) + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        var settings = new LoadTestSettings { Target = "grpc://127.0.0.1:1", Assets = symbols.Length, Symbols = symbols, Batch = batch };
        using var target = new GrpcLoadTarget(settings.Target, settings);
        var picker = new AssetPicker(symbols.Length, null);
        var buffer = new byte[64 * 1024];
        int length = target.WriteRequest(picker, new Random(9), buffer);

        var random = new Random(9);
        string[] picked = [.. Enumerable.Range(0, Math.Max(1, batch)).Select(_ => symbols[picker.Next(random)])];
        ReadOnlySpan<byte> message = buffer.AsSpan(0, length);
        if (batch == 0)
        {
            Assert.Equal(new PredictRequest { Asset = picked[0] }, PredictRequest.Parser.ParseFrom(message));
        }
        else
        {
            Assert.Equal(picked, PredictBatchRequest.Parser.ParseFrom(message).Assets);
        }
    }

    [Fact]
    public void A_request_that_does_not_fit_asks_for_a_larger_buffer()
    {
        var settings = new LoadTestSettings { Target = "grpc://127.0.0.1:1", Assets = 10, Batch = 10 };
        using var target = new GrpcLoadTarget(settings.Target, settings);
        Assert.Equal(-1, target.WriteRequest(new AssetPicker(10, null), new Random(1), new byte[20]));
    }

    [Fact]
    public void Calls_go_to_the_paths_the_grid_serves()
    {
        Assert.Equal("/marketintel.v1.Grid/Predict", GrpcLoadTarget.MethodPath(nameof(Grid.GridClient.Predict)));
        Assert.Equal("/marketintel.v1.Grid/PredictBatch", GrpcLoadTarget.MethodPath(nameof(Grid.GridClient.PredictBatch)));
    }

    [Fact]
    public void A_batch_answer_is_counted_from_the_generated_reply_its_failed_entries_by_error_code()
    {
        var reply = new PredictBatchReply();
        reply.Results.Add(new PredictBatchResult { Asset = "A1", Prediction = new Prediction { Asset = "A1", Value = 0.5f, Model = "m", Version = "1", AsOf = 7 } });
        reply.Results.Add(new PredictBatchResult { Asset = "X", ErrorCode = "NOT_FOUND", Error = "asset X has no bars" });
        reply.Results.Add(new PredictBatchResult { Asset = "A2", Prediction = new Prediction { Asset = "A2", Value = 0.25f } });
        reply.Results.Add(new PredictBatchResult { Asset = "Y", ErrorCode = "UNAVAILABLE", Error = "retry" });
        byte[] grpcMessage = [0, 0, 0, 0, 0, .. reply.ToByteArray()];

        Assert.Equal((2, "batch result NOT_FOUND"), GrpcAnswer.CountBatchResults(grpcMessage));
    }
}
