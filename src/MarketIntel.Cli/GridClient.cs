using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Features;

namespace MarketIntel.Cli;

/// <summary>A gRPC client for the grid from a <c>grpc://HOST:PORT</c> or <c>grpcs://HOST:PORT</c> target.</summary>
internal static class GridClient
{
    /// <summary>The environment variable the commands that call the grid read their API key from (or --api-key).</summary>
    public const string ApiKeyVariable = "MARKETINTEL_API_KEY";

    /// <summary>The API key a command sends: <c>--api-key</c>, else <see cref="ApiKeyVariable"/>, else none.</summary>
    public static string? ApiKey(CliArguments options)
    {
        // An empty variable is an unset one (a script's "MARKETINTEL_API_KEY=" turns it off).
        string? key = options.Optional("api-key") ?? (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } set ? set : null);
        if (key is not null && (key.Length == 0 || key.Any(c => c <= ' ' || c > '~')))
        {
            throw new UsageException($"--api-key (or {ApiKeyVariable}) must be a key as 'marketintel keys create' prints it");
        }
        return key;
    }

    /// <summary>The certificate file a command trusts for TLS besides the system's roots: <c>--tls-ca</c>, or none.</summary>
    public static string? TrustedCa(CliArguments options)
    {
        string? file = options.Optional("tls-ca");
        return file is null || File.Exists(file) ? file : throw new UsageException($"--tls-ca: '{file}' does not exist");
    }

    /// <summary>
    /// A channel to the grid at <c>grpc://HOST:PORT</c> (HTTP/2 without TLS) or <c>grpcs://HOST:PORT</c> (TLS, trusting
    /// the system's roots and <paramref name="trustedCa"/>), sending <paramref name="apiKey"/>, when given, as
    /// <c>authorization: Bearer</c> on every call.
    /// </summary>
    public static GrpcChannel Channel(string target, string? apiKey = null, string? trustedCa = null)
    {
        bool tls = target.StartsWith("grpcs://", StringComparison.OrdinalIgnoreCase);
        string rest = tls ? target["grpcs://".Length..] : target.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase) ? target["grpc://".Length..] : "";
        if (rest.Length == 0 || !Uri.TryCreate((tls ? "https://" : "http://") + rest, UriKind.Absolute, out Uri? uri)
            || uri.AbsolutePath != "/" || uri.IsDefaultPort)
        {
            throw new UsageException($"--target '{target}' must look like grpc://HOST:PORT or grpcs://HOST:PORT");
        }
        var options = new GrpcChannelOptions
        {
            MaxReceiveMessageSize = 64 << 20,
            MaxSendMessageSize = 64 << 20,
        };
        if (!tls && trustedCa is not null)
        {
            throw new UsageException($"--tls-ca applies to grpcs:// targets; '{target}' is not one");
        }
        if (tls && trustedCa is not null)
        {
            options.HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                SslOptions = { RemoteCertificateValidationCallback = TlsTrust.Validator(trustedCa) },
            };
        }
        if (apiKey is not null)
        {
            // grpc:// is HTTP/2 without TLS (loopback or a private network): the key is sent all the same.
            options.Credentials = Grpc.Core.ChannelCredentials.Create(tls ? Grpc.Core.ChannelCredentials.SecureSsl : Grpc.Core.ChannelCredentials.Insecure,
                Grpc.Core.CallCredentials.FromInterceptor((_, metadata) =>
                {
                    metadata.Add("authorization", "Bearer " + apiKey);
                    return Task.CompletedTask;
                }));
            options.UnsafeUseInsecureChannelCallCredentials = !tls;
        }
        return GrpcChannel.ForAddress(uri, options);
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
