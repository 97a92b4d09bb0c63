using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Server.Tests;

namespace MarketIntel.Security.Tests;

/// <summary>Input that once broke an asset or the replies for everyone: each is refused, and the asset goes on.</summary>
public sealed class HostileInputTests(LimitsTests.Server server) : IClassFixture<LimitsTests.Server>
{
    private Grid.GridClient Grpc => server.Grpc;

    [Theory]
    [InlineData(long.MaxValue, "is more than 1.00:00:00 ahead of the server's clock (setting Grid:FutureTolerance)")]
    [InlineData(long.MinValue, "is before 1800-01-01, the earliest bar time accepted")]
    public async Task A_bar_time_out_of_range_is_rejected_and_real_bars_after_it_are_accepted(long timestamp, string reason)
    {
        string asset = Bars.NewAsset("time");
        var wild = Bars.At(0);
        wild.Timestamp = timestamp;
        var reply = await Bars.Ingest(Grpc, asset, new[] { wild }.Concat(Bars.Range(0, 30)));
        Assert.Equal((30, 1, 0), (reply.Accepted, reply.Rejected, reply.Ignored));
        Assert.Contains(reason, reply.Rejections[0].Reason, StringComparison.Ordinal);
        Assert.Equal(Bars.Timestamp(29), (await Grpc.PredictAsync(new PredictRequest { Asset = asset })).AsOf);
    }

    [Fact]
    public async Task Prices_and_volumes_past_what_the_arithmetic_survives_are_rejected()
    {
        string asset = Bars.NewAsset("huge");
        var price = Bars.At(0);
        price.Open = price.High = price.Close = 1e308;
        var volume = Bars.At(0);
        volume.Volume = 1e300;
        var reply = await Bars.Ingest(Grpc, asset, [price, volume]);
        Assert.Equal(2, reply.Rejected);
        Assert.Contains("open 1E+308 is above the largest price accepted, 1000000000000", reply.Rejections[0].Reason, StringComparison.Ordinal);
        Assert.Contains("volume 1E+300 is above the largest volume accepted", reply.Rejections[1].Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("АAPL", "has 'А' (U+0410) at position 1; symbols are printable ASCII without spaces")]
    [InlineData("A\u200BB", "has '\u200B' (U+200B) at position 2")]
    [InlineData("A\tB", "has white space at position 2")]
    public async Task Look_alike_and_invisible_characters_in_symbols_are_refused(string symbol, string message)
    {
        var e = await Assert.ThrowsAsync<RpcException>(async () => await Grpc.PredictAsync(new PredictRequest { Asset = symbol }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(message, e.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1000, null, "is 1000 characters long; the limit is 128")]
    [InlineData(5, "m@x", "has '@'; model names and versions are letters, digits")]
    [InlineData(5, "m\u0000x", "has '?'")]
    public async Task Model_names_are_short_plain_words(int length, string? name, string message)
    {
        var e = await Assert.ThrowsAsync<RpcException>(async () => await Grpc.RegisterModelAsync(new RegisterModelRequest
        {
            Name = name ?? new string('m', length),
            Version = "1",
            Model = Bars.File(AuthFixture.PushedModel),
        }));
        Assert.True(e.StatusCode == StatusCode.InvalidArgument, e.ToString());
        Assert.Contains(message, e.Status.Detail, StringComparison.Ordinal);
    }
}
