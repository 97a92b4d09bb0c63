using Google.Protobuf;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using Bar = MarketIntel.Api.V1.Bar;
using MarketIntel.Features.Io;
using MarketIntel.Tests;

namespace MarketIntel.Server.Tests;

/// <summary>The bundled MSFT daily bars as API messages, and helpers the tests share.</summary>
internal static class Bars
{
    public static BarSeries Msft { get; } = BarCsv.Read(RepoPaths.Data("msft-daily.csv"));

    /// <summary>Bar i of MSFT, stamped one day apart from a fixed start.</summary>
    public static Bar At(int i) => new()
    {
        Timestamp = Timestamp(i),
        Open = Msft.Open[i],
        High = Msft.High[i],
        Low = Msft.Low[i],
        Close = Msft.Close[i],
        Volume = Msft.Volume[i],
    };

    public static long Timestamp(int i) => 1_600_000_000_000L + i * 86_400_000L;

    public static IEnumerable<Bar> Range(int start, int count) => Enumerable.Range(start, count).Select(At);

    public static async Task<IngestBarsReply> Ingest(Grid.GridClient client, string asset, IEnumerable<Bar> bars, int perMessage = 100)
    {
        using var call = client.IngestBars();
        foreach (var chunk in bars.Chunk(perMessage))
        {
            await call.RequestStream.WriteAsync(new IngestBarsRequest { Asset = asset, Bars = { chunk } });
        }
        await call.RequestStream.CompleteAsync();
        return await call;
    }

    public static string NewAsset(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    public static ByteString File(string path) => ByteString.CopyFrom(System.IO.File.ReadAllBytes(path));
}
