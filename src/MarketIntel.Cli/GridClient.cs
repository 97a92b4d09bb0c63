using Grpc.Net.Client;
using MarketIntel.Api.V1;

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
}
