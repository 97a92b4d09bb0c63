using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;
using MarketIntel.Features;

namespace MarketIntel.Cli;

/// <summary>
/// The commands' gRPC client of the grid (<c>ingest</c>, <c>demo</c>): it needs only the API's contracts
/// (MarketIntel.Api.V1, from src/MarketIntel.Api.Contracts) and a channel from <see cref="GridChannel"/>, not the
/// server (the CLI references that for the commands that run the grid or its stores: <c>serve</c>, <c>demo</c>,
/// <c>db</c>, <c>keys</c>).
/// </summary>
internal static class GridClient
{
    public static Grid.GridClient Create(GrpcChannel channel) => new(channel);

    /// <summary>How many bars one IngestBars message carries.</summary>
    public const int BarsPerMessage = 500;

    /// <summary>
    /// Sends bars <paramref name="start"/> to <paramref name="end"/> (exclusive) of a series as one IngestBars call,
    /// in messages of <see cref="BarsPerMessage"/>; the reply acknowledges them all. With <paramref name="holder"/>
    /// (the holder that acknowledged earlier bars), a server that is another holder refuses the call.
    /// </summary>
    public static async Task<IngestBarsReply> IngestAsync(Grid.GridClient client, string asset, BarSeries series, long[] timestamps, int start, int end, string holder = "")
    {
        using var call = client.IngestBars();
        for (int i = start; i < end; i += BarsPerMessage)
        {
            var message = new IngestBarsRequest { Asset = asset, ExpectedHolder = holder };
            for (int j = i; j < Math.Min(end, i + BarsPerMessage); j++)
            {
                message.Bars.Add(new Api.V1.Bar
                {
                    Timestamp = timestamps[j],
                    Open = series.Open[j],
                    High = series.High[j],
                    Low = series.Low[j],
                    Close = series.Close[j],
                    Volume = series.Volume[j],
                });
            }
            try
            {
                await call.RequestStream.WriteAsync(message);
            }
            catch (RpcException)
            {
                // The server answered before reading the whole stream (a refused key, a bad message): a write then
                // fails as cancelled, and the answer's own status says why. An answer without an error cannot
                // acknowledge bars that were never sent, so the write's failure stands then.
                await call.ResponseAsync;
                throw;
            }
        }
        await call.RequestStream.CompleteAsync();
        return await call;
    }
}
