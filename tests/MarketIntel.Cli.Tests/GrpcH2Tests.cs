using MarketIntel.LoadTest;

namespace MarketIntel.Cli.Tests;

/// <summary>The load test's HTTP/2 gRPC client reads statuses from header blocks coded against the static table.</summary>
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
}
