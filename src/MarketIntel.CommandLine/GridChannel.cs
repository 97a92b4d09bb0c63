using Grpc.Net.Client;

namespace MarketIntel.CommandLine;

/// <summary>
/// A gRPC channel to the grid as a command line names it: <c>--target grpc://HOST:PORT</c> or <c>grpcs://HOST:PORT</c>,
/// the API key (<c>--api-key</c> or <see cref="ApiKeyVariable"/>) and a CA to trust (<c>--tls-ca</c>).
/// </summary>
public static class GridChannel
{
    /// <summary>The environment variable the commands that call the grid read their API key from (or --api-key).</summary>
    public const string ApiKeyVariable = "MARKETINTEL_API_KEY";

    /// <summary>The API key a command sends: <c>--api-key</c>, else <see cref="ApiKeyVariable"/>, else none.</summary>
    public static string? ApiKey(CliArguments options)
    {
        ArgumentNullException.ThrowIfNull(options);
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
        ArgumentNullException.ThrowIfNull(options);
        string? file = options.Optional("tls-ca");
        return file is null || File.Exists(file) ? file : throw new UsageException($"--tls-ca: '{file}' does not exist");
    }

    /// <summary>
    /// A channel to the grid at <c>grpc://HOST:PORT</c> (HTTP/2 without TLS) or <c>grpcs://HOST:PORT</c> (TLS, trusting
    /// the system's roots and <paramref name="trustedCa"/>), sending <paramref name="apiKey"/>, when given, as
    /// <c>authorization: Bearer</c> on every call.
    /// </summary>
    public static GrpcChannel Create(string target, string? apiKey = null, string? trustedCa = null)
    {
        ArgumentNullException.ThrowIfNull(target);
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
}
