using System.Net;
using System.Net.Sockets;

namespace MarketIntel.LoadTest;

/// <summary>What the HTTP/1.1 and HTTP/2 connections of the load test do alike with their sockets.</summary>
internal static class LoadSockets
{
    /// <summary>A connected TCP socket with Nagle off (requests are small and answered one at a time).</summary>
    public static async ValueTask<Socket> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether <paramref name="e"/> ends one request (the connection is then dropped), not the run.</summary>
    public static bool IsRequestFailure(Exception e, CancellationToken requestToken) =>
        IsConnectionFailure(e) || (e is OperationCanceledException && requestToken.IsCancellationRequested);

    /// <summary>
    /// Whether <paramref name="e"/> is the connection failing: a socket error, an answer this client cannot read, or
    /// (over TLS, where the socket sits under an SslStream) the stream's I/O error.
    /// </summary>
    public static bool IsConnectionFailure(Exception e) => e is SocketException or IOException or BadResponseException;

    /// <summary>A request that ended with <paramref name="e"/> (see <see cref="IsRequestFailure"/>), as the report counts it.</summary>
    public static Outcome Failure(Exception e) => Outcome.Failed(e switch
    {
        SocketException s => ErrorKind(s),
        IOException { InnerException: SocketException s } => ErrorKind(s),
        IOException io => "connection failed: " + io.Message,
        BadResponseException b => b.Message,
        _ => "timeout",
    });

    /// <summary>A socket failure as an error kind of the report.</summary>
    public static string ErrorKind(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.ConnectionReset => "connection reset",
        SocketError.TimedOut => "timeout",
        _ => "socket " + e.SocketErrorCode,
    };

    /// <summary>A clean close at the end of a run (FIN, not a reset).</summary>
    public static void CloseGracefully(Socket? socket)
    {
        try
        {
            socket?.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already failed or closed: nothing left to close gracefully.
        }
        socket?.Dispose();
    }
}
