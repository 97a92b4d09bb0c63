using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using MarketIntel.CommandLine;

namespace MarketIntel.LoadTest;

/// <summary>
/// An HTTP/1.1 URL template such as <c>http://127.0.0.1:5080/predict/{asset}</c>: GET requests on keep-alive
/// connections, written straight onto a socket and read with a small response parser (status line, headers,
/// Content-Length or chunked bodies, <c>Connection: close</c>). The request is formatted into a buffer the
/// connection owns, so the load generator allocates nothing per request and costs the machine little — on a
/// machine shared with the server that matters for the server's figures. <c>https://</c> runs the same client over
/// TLS, offering <c>http/1.1</c> with ALPN.
/// </summary>
internal sealed class HttpLoadTarget : ILoadTarget
{
    private readonly byte[][] _pathParts;
    private readonly byte[] _tail;
    private readonly Uri _origin;
    private readonly LoadTestSettings _settings;
    private readonly byte[][]? _symbols;

    public HttpLoadTarget(string template, LoadTestSettings settings)
    {
        Template = template;
        bool tls = template.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        // The path keeps {asset} placeholders, so split off the origin by hand and validate it with Uri.
        int pathStart = template.IndexOfAny(['/', '?'], (tls ? "https://" : "http://").Length);
        string origin = pathStart < 0 ? template : template[..pathStart];
        string path = pathStart < 0 ? "/" : template[pathStart] == '?' ? "/" + template[pathStart..] : template[pathStart..];
        if (!Uri.TryCreate(origin, UriKind.Absolute, out Uri? uri) || uri.Scheme != (tls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp)
            || origin.Contains('{', StringComparison.Ordinal) || uri.UserInfo.Length > 0 || path.Any(c => c <= ' ' || c > '~' || c == '#'))
        {
            throw new UsageException($"--target '{template}' is not an {(tls ? "https" : "http")}://HOST:PORT/path URL template ({{asset}} may appear in the path or query)");
        }
        _origin = uri;
        _pathParts = path.Split("{asset}").Select(Encoding.ASCII.GetBytes).ToArray();
        string hostHeader = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port.ToString(CultureInfo.InvariantCulture)}";
        _tail = Encoding.ASCII.GetBytes($" HTTP/1.1\r\nHost: {hostHeader}\r\nUser-Agent: marketintel-loadtest\r\nAccept: */*\r\n" +
            (settings.ApiKey is null ? "" : $"Authorization: Bearer {settings.ApiKey}\r\n") + "\r\n");
        EndPoint = Resolve(uri);
        Tls = tls ? new LoadTls(uri.IdnHost, System.Net.Security.SslApplicationProtocol.Http11, settings.TrustedCa) : null;
        _settings = settings;
        // Named symbols go into the URL escaped; A0..A{N-1} are formatted in place.
        _symbols = settings.Symbols?.Select(s => Encoding.ASCII.GetBytes(Uri.EscapeDataString(s))).ToArray();
        int longest = _symbols?.Max(s => s.Length) ?? 11;
        MaxRequestBytes = 4 + _pathParts.Sum(p => p.Length) + (_pathParts.Length - 1) * longest + _tail.Length;
    }

    public string Template { get; }

    public string Description => $"{Template} (HTTP/1.1)";

    public EndPoint EndPoint { get; }

    /// <summary>TLS for an <c>https://</c> target; null for <c>http://</c>.</summary>
    public LoadTls? Tls { get; }

    public int MaxRequestBytes { get; }

    public ILoadConnection Connect(int worker) => new HttpLoadConnection(this);

    /// <summary>Writes <c>GET path HTTP/1.1</c> and the headers for asset number <paramref name="asset"/>; returns the length.</summary>
    public int FormatRequest(Span<byte> buffer, int asset)
    {
        "GET "u8.CopyTo(buffer);
        int n = 4;
        for (int i = 0; i < _pathParts.Length; i++)
        {
            if (i > 0 && _symbols is not null)
            {
                _symbols[asset].CopyTo(buffer[n..]);
                n += _symbols[asset].Length;
            }
            else if (i > 0)
            {
                buffer[n++] = (byte)'A';
                asset.TryFormat(buffer[n..], out int written, default, CultureInfo.InvariantCulture);
                n += written;
            }
            _pathParts[i].CopyTo(buffer[n..]);
            n += _pathParts[i].Length;
        }
        _tail.CopyTo(buffer[n..]);
        return n + _tail.Length;
    }

    /// <summary>Seeds through the grid's <c>PUT /features/{asset}</c> on the target's host and port.</summary>
    public async Task SeedAsync(int assets, Func<int, float[]> vector, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler();
        if (_settings.TrustedCa is { } trustedCa)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = TlsTrust.Validator(trustedCa);
        }
        using var http = new HttpClient(handler) { BaseAddress = _origin, Timeout = TimeSpan.FromSeconds(30) };
        if (_settings.ApiKey is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _settings.ApiKey);
        }
        await Parallel.ForAsync(0, assets, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            string path = "/features/" + Uri.EscapeDataString(_settings.AssetName(i));
            HttpResponseMessage response;
            try
            {
                response = await http.PutAsJsonAsync(path, vector(i), ct);
            }
            catch (HttpRequestException e)
            {
                throw new LoadTestException($"seeding: PUT {new Uri(_origin, path)} failed: {LoadTls.SeedingFailure(e, _settings.TrustedCa) ?? e.Message}");
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new LoadTestException($"seeding: PUT {new Uri(_origin, path)} had no answer within {http.Timeout.TotalSeconds:0} s");
            }
            using (response)
            {
                if (!response.IsSuccessStatusCode)
                {
                    string body = await response.Content.ReadAsStringAsync(ct);
                    throw new LoadTestException($"seeding: PUT {new Uri(_origin, path)} answered HTTP {(int)response.StatusCode}: {Shorten(body)}");
                }
            }
        });
    }

    public void Dispose()
    {
    }

    private static string Shorten(string text) => text.Length <= 200 ? text.Trim() : text[..200] + "...";

    internal static EndPoint Resolve(Uri uri)
    {
        if (IPAddress.TryParse(uri.IdnHost, out IPAddress? ip))
        {
            return new IPEndPoint(ip, uri.Port);
        }
        try
        {
            IPAddress[] addresses = Dns.GetHostAddresses(uri.IdnHost);
            IPAddress address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.First();
            return new IPEndPoint(address, uri.Port);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            throw new LoadTestException($"--target: cannot resolve host '{uri.Host}': {e.Message}");
        }
    }
}

/// <summary>One keep-alive HTTP/1.1 connection (over TLS for https://); reconnects on the next request after any failure.</summary>
internal sealed class HttpLoadConnection(HttpLoadTarget target) : ILoadConnection
{
    private const int BufferBytes = 16 * 1024;
    private readonly byte[] _request = new byte[target.MaxRequestBytes];
    private readonly byte[] _buffer = new byte[BufferBytes];
    private LoadTransport? _transport;
    private int _start;
    private int _end;
    private long _answerBytes;   // bytes received since the current request went out

    public async ValueTask<Outcome> SendAsync(AssetPicker picker, Random random, CancellationToken cancellationToken)
    {
        int length = target.FormatRequest(_request, picker.Next(random));
        // A kept-alive connection the server closed while it sat idle fails before any byte of the answer; the
        // request is then sent once more on a new connection, as HTTP clients do.
        for (bool reused = _transport is not null; ; reused = false)
        {
            try
            {
                if (_transport is null)
                {
                    _transport = await LoadTransport.ConnectAsync(target.EndPoint, target.Tls, cancellationToken);
                    _start = _end = 0;
                }
                _answerBytes = 0;
                await _transport.SendAsync(_request.AsMemory(0, length), cancellationToken);
                return await ReadResponseAsync(cancellationToken);
            }
            catch (Exception e) when (reused && (e is ClosedBeforeAnswerException || (ClosedByPeer(e) && _answerBytes == 0)))
            {
                Close();
            }
            catch (Exception e) when (LoadSockets.IsRequestFailure(e, cancellationToken))
            {
                Close();
                return LoadSockets.Failure(e);
            }
        }
    }

    private async ValueTask<Outcome> ReadResponseAsync(CancellationToken cancellationToken)
    {
        ResponseHead head;
        do
        {
            int headEnd;
            bool any = false;
            while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            {
                any |= _end > _start;
                if (!await FillAsync(cancellationToken))
                {
                    throw any ? new BadResponseException("connection closed mid-response") : new ClosedBeforeAnswerException();
                }
            }
            head = ResponseHead.Parse(_buffer.AsSpan(_start, headEnd + 2));
            _start += headEnd + 4;
        }
        while (head.Status is >= 100 and < 200 and not 101);

        if (head.Status is 204 or 304)
        {
            // No body, whatever the headers say.
        }
        else if (head.Chunked)
        {
            await SkipChunkedBodyAsync(cancellationToken);
        }
        else if (head.ContentLength >= 0)
        {
            await SkipAsync(head.ContentLength, cancellationToken);
        }
        else
        {
            // No length: the body runs to the end of the connection.
            _start = _end;
            while (await FillAsync(cancellationToken))
            {
                _start = _end;
            }
            Close();
        }
        if (head.Close)
        {
            Close();
        }
        return head.Status is >= 200 and < 300 ? Outcome.Ok(1) : Outcome.Refused("HTTP " + head.Status.ToString(CultureInfo.InvariantCulture));
    }

    private async ValueTask SkipChunkedBodyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int lineEnd = await LineEndAsync(cancellationToken);
            long size = ParseChunkSize(_buffer.AsSpan(_start, lineEnd - _start));
            _start = lineEnd + 2;
            if (size == 0)
            {
                // Trailer lines, if any, up to the empty line that ends the message.
                while (true)
                {
                    lineEnd = await LineEndAsync(cancellationToken);
                    bool empty = lineEnd == _start;
                    _start = lineEnd + 2;
                    if (empty)
                    {
                        return;
                    }
                }
            }
            await SkipAsync(size, cancellationToken);
            lineEnd = await LineEndAsync(cancellationToken);
            if (lineEnd != _start)
            {
                throw new BadResponseException("bad response: a chunk is longer than its size line says");
            }
            _start = lineEnd + 2;
        }
    }

    private static long ParseChunkSize(ReadOnlySpan<byte> line)
    {
        int semicolon = line.IndexOf((byte)';');
        if (semicolon >= 0)
        {
            line = line[..semicolon];
        }
        line = line.Trim((byte)' ');
        long size = 0;
        if (line.Length is 0 or > 15)
        {
            throw new BadResponseException("bad response: a chunk size line is not a hexadecimal number");
        }
        foreach (byte b in line)
        {
            int digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => throw new BadResponseException("bad response: a chunk size line is not a hexadecimal number"),
            };
            size = (size << 4) | (uint)digit;
        }
        return size;
    }

    /// <summary>The index of the next CRLF at or after the read position, reading more as needed.</summary>
    private async ValueTask<int> LineEndAsync(CancellationToken cancellationToken)
    {
        int i;
        while ((i = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken))
            {
                throw new BadResponseException("connection closed mid-response");
            }
        }
        return _start + i;
    }

    private async ValueTask SkipAsync(long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                throw new BadResponseException("connection closed mid-response");
            }
            int take = (int)Math.Min(count, _end - _start);
            _start += take;
            count -= take;
        }
    }

    /// <summary>Reads more bytes after the unread ones, compacting the buffer first; false at the end of the stream.</summary>
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            if (_start == 0)
            {
                throw new BadResponseException($"bad response: a header or chunk-size line is over {BufferBytes} bytes");
            }
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        int n = await _transport!.ReceiveAsync(_buffer.AsMemory(_end), cancellationToken);
        _end += n;
        _answerBytes += n;
        return n > 0;
    }

    /// <summary>Whether <paramref name="e"/> says the server closed the connection (directly on the socket, or under an SslStream).</summary>
    private static bool ClosedByPeer(Exception e) => e switch
    {
        SocketException s => s.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown,
        IOException { InnerException: SocketException s } => ClosedByPeer(s),
        _ => false,
    };

    private void Close()
    {
        _transport?.Dispose();
        _transport = null;
        _start = _end = 0;
    }

    public ValueTask DisposeAsync()
    {
        _transport?.CloseGracefully();
        _transport = null;
        return ValueTask.CompletedTask;
    }

    /// <summary>What the request loop needs from a response's status line and headers.</summary>
    private readonly record struct ResponseHead(int Status, long ContentLength, bool Chunked, bool Close)
    {
        /// <summary>Parses the lines up to (and including the CRLF of) the last header line.</summary>
        public static ResponseHead Parse(ReadOnlySpan<byte> head)
        {
            int lineEnd = head.IndexOf("\r\n"u8);
            ReadOnlySpan<byte> statusLine = head[..lineEnd];
            // "HTTP/1.1 200 OK": the version, a space, three digits.
            if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1."u8) || statusLine[8] != (byte)' '
                || !int.TryParse(statusLine.Slice(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int status))
            {
                throw new BadResponseException("bad response: not an HTTP/1.x status line");
            }
            bool http10 = statusLine[7] == (byte)'0';
            long contentLength = -1;
            bool chunked = false;
            bool close = http10;
            head = head[(lineEnd + 2)..];
            while (!head.IsEmpty)
            {
                lineEnd = head.IndexOf("\r\n"u8);
                ReadOnlySpan<byte> line = head[..lineEnd];
                head = head[(lineEnd + 2)..];
                int colon = line.IndexOf((byte)':');
                if (colon <= 0)
                {
                    continue;
                }
                ReadOnlySpan<byte> name = line[..colon];
                ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t"u8);
                if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
                {
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out contentLength))
                    {
                        throw new BadResponseException("bad response: Content-Length is not a number");
                    }
                }
                else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
                {
                    chunked = value.Length >= 7 && Ascii.EqualsIgnoreCase(value[^7..], "chunked"u8);
                }
                else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
                {
                    close = HasToken(value, "close"u8) || (http10 && !HasToken(value, "keep-alive"u8));
                }
            }
            return new ResponseHead(status, contentLength, chunked, close);
        }

        /// <summary>Whether a comma-separated header value such as <c>close, TE</c> lists <paramref name="token"/>.</summary>
        private static bool HasToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
        {
            foreach (Range part in value.Split((byte)','))
            {
                if (Ascii.EqualsIgnoreCase(value[part].Trim(" \t"u8), token))
                {
                    return true;
                }
            }
            return false;
        }
    }
}

/// <summary>A response this client cannot read; the connection is dropped and the request counted as an error.</summary>
internal class BadResponseException(string message) : Exception(message);

/// <summary>The connection ended before any byte of the answer: on a reused connection, the server closed it while idle.</summary>
internal sealed class ClosedBeforeAnswerException() : BadResponseException("connection closed before the answer");

/// <summary>A load test that cannot start or go on (nothing listening, seeding refused); one line, exit code 2.</summary>
public sealed class LoadTestException(string message) : Exception(message);
