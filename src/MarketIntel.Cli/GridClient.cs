using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Features;

namespace MarketIntel.Cli;

/// <summary>A gRPC client for the grid from a <c>grpc://HOST:PORT</c> target (HTTP/2 without TLS).</summary>
internal static class GridClient
{
    public static GrpcChannel Channel(string target)
    {
        if (!target.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase)
            || !Uri.TryCreate("http://" + target["grpc://".Length..], UriKind.Absolute, out Uri? uri)
            || uri.AbsolutePath != "/" || uri.IsDefaultPort)
        {
            throw new UsageException($"--target '{target}' must look like grpc://HOST:PORT");
        }
        return GrpcChannel.ForAddress(uri, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = 64 << 20,
            MaxSendMessageSize = 64 << 20,
        });
    }

    public static Grid.GridClient Create(GrpcChannel channel) => new(channel);

    /// <summary>How many bars one IngestBars message carries.</summary>
    public const int BarsPerMessage = 500;

    /// <summary>
    /// Sends bars <paramref name="start"/> to <paramref name="end"/> (exclusive) of a series as one IngestBars call,
    /// in messages of <see cref="BarsPerMessage"/>; the reply acknowledges them all.
    /// </summary>
    public static async Task<IngestBarsReply> IngestAsync(Grid.GridClient client, string asset, BarSeries series, long[] timestamps, int start, int end)
    {
        using var call = client.IngestBars();
        for (int i = start; i < end; i += BarsPerMessage)
        {
            var message = new IngestBarsRequest { Asset = asset };
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
            await call.RequestStream.WriteAsync(message);
        }
        await call.RequestStream.CompleteAsync();
        return await call;
    }
}
