using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MarketIntel.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// A small Kestrel server for the load-test tests: <c>/fast/{asset}</c> answers at once,
/// <c>/status/{code}/{asset}</c> with that status, <c>/chunked/{asset}</c> a 40 KB body in three chunked pieces,
/// and <c>/stall/{asset}</c> at once except that every request arriving from 1.0 s to 1.3 s after the first one
/// is held until 1.3 s (a 300 ms stall).
/// </summary>
internal sealed class TimedHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _firstStallRequest;
    private long _requests;

    public TimedHttpServer()
    {
        Port = FreePorts.Pick(1)[0];
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, Port));
        _app = builder.Build();
        _app.Use((context, next) =>
        {
            Interlocked.Increment(ref _requests);
            return next(context);
        });
        _app.MapGet("/fast/{asset}", (string asset) => Results.Text("ok " + asset));
        _app.MapGet("/status/{code:int}/{asset}", (int code, string asset) => Results.Text("status " + asset, statusCode: code));
        _app.MapGet("/chunked/{asset}", async (HttpContext http) =>
        {
            byte[] piece = Encoding.ASCII.GetBytes(new string('x', 40_000 / 3));
            for (int i = 0; i < 3; i++)
            {
                await http.Response.Body.WriteAsync(piece);
                await http.Response.Body.FlushAsync();
            }
        });
        _app.MapGet("/stall/{asset}", async (string asset) =>
        {
            long now = Stopwatch.GetTimestamp();
            Interlocked.CompareExchange(ref _firstStallRequest, now, 0);
            double since = Stopwatch.GetElapsedTime(Interlocked.Read(ref _firstStallRequest), now).TotalSeconds;
            if (since is >= 1.0 and < 1.3)
            {
                await Task.Delay(TimeSpan.FromSeconds(1.3 - since));
            }
            return Results.Text("ok " + asset);
        });
    }

    public int Port { get; }

    public long Requests => Interlocked.Read(ref _requests);

    public string Url(string path) => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}{path}";

    public Task StartAsync() => _app.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// A raw TCP server that answers every request with one scripted response, with a thread per connection that
/// sleeps a fixed time before answering: its latency is the delay and nothing else (no thread pool, no timer
/// queue), the reference the wrk comparison needs. Responses go out a few bytes at a time when asked, to test
/// the load test's HTTP parser on what Kestrel never sends: informational answers, chunk extensions and trailers,
/// HTTP/1.0 bodies that end with the connection.
/// </summary>
internal sealed class ScriptedHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly byte[] _response;
    private readonly bool _closeAfter;
    private readonly int _delayMs;
    private readonly int _pieceBytes;
    private readonly int _idleCloseMs;
    private readonly List<Socket> _clients = [];
    private volatile bool _stopped;
    private long _requests;

    /// <param name="idleCloseMs">Close a kept-alive connection that has waited this long for its next request (0: never).</param>
    public ScriptedHttpServer(string response, bool closeAfter, int delayMs = 0, int pieceBytes = 7, int idleCloseMs = 0)
    {
        _idleCloseMs = idleCloseMs;
        _response = Encoding.ASCII.GetBytes(response);
        _closeAfter = closeAfter;
        _delayMs = delayMs;
        _pieceBytes = pieceBytes;
        _listener.Start();
        new Thread(AcceptLoop) { IsBackground = true }.Start();
    }

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>The request line of the latest request, e.g. <c>GET /x/A3 HTTP/1.1</c>.</summary>
    public string? LastRequestLine { get; private set; }

    public string Url(string path) => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture)}{path}";

    private void AcceptLoop()
    {
        while (!_stopped)
        {
            Socket client;
            try
            {
                client = _listener.AcceptSocket();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            lock (_clients)
            {
                _clients.Add(client);
            }
            new Thread(() => Serve(client)) { IsBackground = true }.Start();
        }
    }

    private void Serve(Socket client)
    {
        using (client)
        {
            client.NoDelay = true;
            var buffer = new byte[8192];
            int have = 0;
            try
            {
                while (!_stopped)
                {
                    int end;
                    while ((end = buffer.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
                    {
                        int n = client.Receive(buffer, have, buffer.Length - have, SocketFlags.None);
                        if (n == 0)
                        {
                            return;
                        }
                        have += n;
                    }
                    int lineEnd = buffer.AsSpan(0, end).IndexOf("\r\n"u8);
                    LastRequestLine = Encoding.ASCII.GetString(buffer, 0, lineEnd < 0 ? end : lineEnd);
                    Buffer.BlockCopy(buffer, end + 4, buffer, 0, have - end - 4);
                    have -= end + 4;
                    Interlocked.Increment(ref _requests);
                    if (_delayMs > 0)
                    {
                        Thread.Sleep(_delayMs);
                    }
                    for (int i = 0; i < _response.Length; i += _pieceBytes)
                    {
                        client.Send(_response, i, Math.Min(_pieceBytes, _response.Length - i), SocketFlags.None);
                    }
                    if (_closeAfter)
                    {
                        client.Shutdown(SocketShutdown.Both);
                        return;
                    }
                    // Only a connection kept alive after an answer is closed when idle, as servers' keep-alive timeouts do.
                    client.ReceiveTimeout = _idleCloseMs;

                }
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                // Idle past idleCloseMs: close as keep-alive servers do.
                client.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    public void Dispose()
    {
        _stopped = true;
        _listener.Stop();
        lock (_clients)
        {
            foreach (var c in _clients)
            {
                c.Dispose();
            }
        }
    }
}
