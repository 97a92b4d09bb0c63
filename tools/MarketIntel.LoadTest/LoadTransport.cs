using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using MarketIntel.CommandLine;

namespace MarketIntel.LoadTest;

/// <summary>
/// One connection of the load test as its clients send and receive on it: the socket itself for <c>http://</c> and
/// <c>grpc://</c> targets, an <see cref="SslStream"/> over it for <c>https://</c> and <c>grpcs://</c>. One type for
/// both keeps one code path per client; on the plain path a call costs one null check more than calling the socket
/// directly (docs/performance.md has the before/after figures).
/// </summary>
internal sealed class LoadTransport : IDisposable
{
    private readonly Socket _socket;
    private readonly SslStream? _tls;

    private LoadTransport(Socket socket, SslStream? tls)
    {
        _socket = socket;
        _tls = tls;
    }

    /// <summary>A connection to <paramref name="endPoint"/>, with the TLS handshake done when <paramref name="tls"/> is given.</summary>
    public static async ValueTask<LoadTransport> ConnectAsync(EndPoint endPoint, LoadTls? tls, CancellationToken cancellationToken)
    {
        Socket socket = await LoadSockets.ConnectAsync(endPoint, cancellationToken);
        return new LoadTransport(socket, tls is null ? null : await tls.AuthenticateAsync(socket, cancellationToken));
    }

    /// <summary>Reads what has arrived into <paramref name="buffer"/> (waiting for at least one byte); 0 at the end of the stream.</summary>
    // Inlined into the clients' read loops, so the plain path is the socket's own call behind a null check.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _tls is null ? _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) : _tls.ReadAsync(buffer, cancellationToken);

    /// <summary>Sends all of <paramref name="data"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (_tls is not null)
        {
            return _tls.WriteAsync(data, cancellationToken);
        }
        // Small writes on a connected socket almost always complete at once and whole: no state machine for those.
        ValueTask<int> send = _socket.SendAsync(data, SocketFlags.None, cancellationToken);
        if (!send.IsCompletedSuccessfully)
        {
            return SendRestAsync(send, data, cancellationToken);
        }
        int sent = send.Result;
        return sent == data.Length ? default : SendRestAsync(new ValueTask<int>(sent), data, cancellationToken);
    }

    private async ValueTask SendRestAsync(ValueTask<int> first, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        for (int sent = await first; sent < data.Length;)
        {
            sent += await _socket.SendAsync(data[sent..], SocketFlags.None, cancellationToken);
        }
    }

    public void Dispose()
    {
        _tls?.Dispose();
        _socket.Dispose();
    }

    /// <summary>A clean close at the end of a run (FIN, not a reset).</summary>
    public void CloseGracefully()
    {
        LoadSockets.CloseGracefully(_socket);
        _tls?.Dispose();
    }
}

/// <summary>
/// TLS for a target's connections: the host name the server's certificate must carry, the one application protocol
/// offered with ALPN (<c>h2</c> for gRPC, <c>http/1.1</c> for HTTP), and the trust: the system's roots, and with
/// <c>--tls-ca</c> also that CA (<see cref="TlsTrust"/>: the name is checked either way). A handshake that fails
/// says why in one line, which the report counts as the request's error kind.
/// </summary>
internal sealed class LoadTls
{
    private readonly RemoteCertificateValidationCallback? _trustedCa;

    /// <param name="host">The target's host as written (a name or an IP address) — what the certificate must name.</param>
    /// <param name="protocol">The application protocol to offer; for HTTP/2 the server must agree on it.</param>
    /// <param name="trustedCa">A PEM file of a CA to trust besides the system's roots (<c>--tls-ca</c>), or null.</param>
    public LoadTls(string host, SslApplicationProtocol protocol, string? trustedCa)
    {
        Host = host;
        Protocol = protocol;
        TrustedCa = trustedCa;
        if (trustedCa is not null)
        {
            try
            {
                _trustedCa = TlsTrust.Validator(trustedCa);
            }
            catch (CryptographicException e)
            {
                throw new UsageException($"--tls-ca: '{trustedCa}' is not a PEM certificate file: {e.Message}");
            }
        }
    }

    public string Host { get; }

    public SslApplicationProtocol Protocol { get; }

    public string? TrustedCa { get; }

    /// <summary>
    /// The TLS handshake on a connected socket, which the returned stream then owns; on failure the socket is closed
    /// and a <see cref="BadResponseException"/> names the reason.
    /// </summary>
    public async ValueTask<SslStream> AuthenticateAsync(Socket socket, CancellationToken cancellationToken)
    {
        var stream = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        SslPolicyErrors errors = SslPolicyErrors.None;
        string chainStatus = "";
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = Host,
            ApplicationProtocols = [Protocol],
            RemoteCertificateValidationCallback = (sender, certificate, chain, policyErrors) =>
            {
                // Kept to say why the handshake failed: the exception alone says only that the certificate was rejected.
                errors = policyErrors;
                chainStatus = chain is null ? "" : string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
                return _trustedCa is null ? policyErrors == SslPolicyErrors.None : _trustedCa(sender, certificate, chain, policyErrors);
            },
        };
        try
        {
            await stream.AuthenticateAsClientAsync(options, cancellationToken);
        }
        catch (Exception e) when (e is AuthenticationException || (e is IOException && e.InnerException is not SocketException))
        {
            stream.Dispose();
            throw new BadResponseException(HandshakeFailure(errors, chainStatus, e));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        if (Protocol == SslApplicationProtocol.Http2 && stream.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2)
        {
            stream.Dispose();
            throw new BadResponseException(NoCommonProtocol);
        }
        return stream;
    }

    /// <summary>The server chose no protocol offered (or, for h2, none at all): gRPC cannot run without HTTP/2.</summary>
    private string NoCommonProtocol => Protocol == SslApplicationProtocol.Http2
        ? "TLS: the server did not agree on HTTP/2 (ALPN h2), which gRPC needs"
        : $"TLS: the server did not agree on {Protocol} (ALPN)";

    /// <summary>Why a handshake failed, in one line that is the same for every connection that fails the same way.</summary>
    private string HandshakeFailure(SslPolicyErrors errors, string chainStatus, Exception e)
    {
        if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            return "TLS: the server sent no certificate";
        }
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return $"TLS: the server's certificate does not name {Host}";
        }
        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return TrustedCa is null
                ? $"TLS: the server's certificate is not trusted ({(chainStatus.Length > 0 ? chainStatus : "chain errors")}); --tls-ca CA.pem trusts a CA of your own"
                : $"TLS: the server's certificate chains neither to the system's roots nor to the CA in --tls-ca '{TrustedCa}'";
        }
        // The exception's own message says "see inner exception"; the innermost one says what happened.
        Exception innermost = e;
        while (innermost.InnerException is { } inner)
        {
            innermost = inner;
        }
        // A server that speaks none of the offered protocols refuses the handshake with this alert (RFC 7301).
        return innermost.Message.Contains("no application protocol", StringComparison.OrdinalIgnoreCase)
            ? NoCommonProtocol
            : "TLS handshake failed: " + OneLine(innermost.Message);
    }

    /// <summary>
    /// For the clients that seed (Grpc.Net.Client, HttpClient): the TLS failure inside <paramref name="e"/> in one line,
    /// or null when it is something else. Their own messages say only "see inner exception".
    /// </summary>
    public static string? SeedingFailure(Exception e, string? trustedCa)
    {
        for (Exception? inner = e is Grpc.Core.RpcException rpc ? rpc.Status.DebugException : e; inner is not null; inner = inner.InnerException)
        {
            if (inner is AuthenticationException authentication)
            {
                return "TLS: " + OneLine(authentication.Message) + (trustedCa is null
                    ? " (--tls-ca CA.pem trusts a CA of your own)"
                    : $" (trusted: the system's roots and the CA in --tls-ca '{trustedCa}')");
            }
        }
        return null;
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
