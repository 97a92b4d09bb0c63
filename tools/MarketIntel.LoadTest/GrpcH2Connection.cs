using System.Buffers.Binary;
using System.Net;
using static MarketIntel.LoadTest.Http2Frames;

namespace MarketIntel.LoadTest;

/// <summary>
/// One HTTP/2 connection (prior knowledge without TLS, or ALPN h2 over TLS) carrying unary gRPC calls, one at a
/// time, written and read directly on its <see cref="LoadTransport"/> by the worker that owns it (<c>--streams 1</c>;
/// <see cref="GrpcH2SharedConnection"/> carries several at once). Grpc.Net.Client spent more CPU per call than the
/// grid's server did (26 µs against 19 µs on the 2-core VM), so on a machine shared with the server the load
/// generator, not the server, set the figure. This client sends a header block computed once per target and a
/// hand-encoded request message, and reads only what it needs from the answer (<see cref="GrpcAnswer"/>).
/// </summary>
internal sealed class GrpcH2Connection(EndPoint endPoint, LoadTls? tls, byte[] headerBlock, GrpcH2Connection.MessageWriter writeMessage, bool batch) : ILoadConnection
{
    /// <summary>Writes one request message (protobuf, without the gRPC prefix); returns its length, or -1 when it does not fit.</summary>
    public delegate int MessageWriter(AssetPicker picker, Random random, Span<byte> destination);

    private readonly GrpcAnswer _answer = new(batch);
    private byte[] _out = new byte[64 * 1024];
    private byte[] _message = new byte[16 * 1024];
    private LoadTransport? _transport;
    private Http2FrameReader? _frames;
    private int _nextStream;
    private long _sendWindow;                          // connection-level, what the server lets us send
    private long _streamSendWindowInitial;
    private long _received;                            // DATA bytes since the last WINDOW_UPDATE we sent

    public async ValueTask<Outcome> SendAsync(AssetPicker picker, Random random, CancellationToken cancellationToken)
    {
        try
        {
            if (_transport is null)
            {
                await ConnectAsync(cancellationToken);
            }
            int messageLength = WriteMessage(writeMessage, picker, random, ref _message);
            int stream = _nextStream;
            _nextStream += 2;
            if (_nextStream > int.MaxValue - 2)
            {
                // Stream ids run out after about a billion calls: start a new connection for the next one.
                _nextStream = -1;
            }
            await WriteRequestAsync(stream, messageLength, cancellationToken);
            Outcome outcome = await ReadAnswerAsync(stream, cancellationToken);
            if (_nextStream < 0)
            {
                Close();
            }
            return outcome;
        }
        catch (Exception e) when (LoadSockets.IsRequestFailure(e, cancellationToken))
        {
            Close();
            return LoadSockets.Failure(e);
        }
    }

    /// <summary>Writes the next request message after its 5-byte gRPC prefix (not compressed, length) into <paramref name="message"/>, growing it as needed; returns the message's length.</summary>
    internal static int WriteMessage(MessageWriter writer, AssetPicker picker, Random random, ref byte[] message)
    {
        int length;
        while ((length = writer(picker, random, message.AsSpan(5))) < 0)
        {
            message = new byte[message.Length * 2];
        }
        message[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), length);
        return length;
    }

    private async ValueTask ConnectAsync(CancellationToken cancellationToken)
    {
        _transport = await LoadTransport.ConnectAsync(endPoint, tls, cancellationToken);
        _frames = new Http2FrameReader(_transport);
        _nextStream = 1;
        _sendWindow = 65_535;
        _streamSendWindowInitial = 65_535;
        _received = 0;
        await SendAllAsync(WriteConnectionStart(_out), cancellationToken);
    }

    private async ValueTask WriteRequestAsync(int stream, int messageLength, CancellationToken cancellationToken)
    {
        int total = 5 + messageLength;
        long streamWindow = _streamSendWindowInitial;
        int need = FrameHeader + headerBlock.Length + (total / MaxFrame + 1) * FrameHeader + total;
        if (_out.Length < need)
        {
            _out = new byte[need];
        }
        int n = WriteFrameHeader(_out, headerBlock.Length, Headers, EndHeaders, stream);
        headerBlock.CopyTo(_out, n);
        n += headerBlock.Length;
        // DATA frames of at most MaxFrame bytes, each sent only when both flow-control windows allow it.
        for (int offset = 0; offset < total;)
        {
            int chunk = Math.Min(MaxFrame, total - offset);
            while (_sendWindow < chunk || streamWindow < chunk)
            {
                await SendAllAsync(n, cancellationToken);
                n = 0;
                streamWindow += await ReadControlFrameAsync(stream, cancellationToken);
            }
            bool last = offset + chunk == total;
            n += WriteFrameHeader(_out.AsSpan(n), chunk, Data, last ? EndStream : (byte)0, stream);
            _message.AsSpan(offset, chunk).CopyTo(_out.AsSpan(n));
            n += chunk;
            offset += chunk;
            _sendWindow -= chunk;
            streamWindow -= chunk;
        }
        await SendAllAsync(n, cancellationToken);
    }

    /// <summary>Reads one frame while waiting for send window; returns window granted to <paramref name="stream"/>.</summary>
    private async ValueTask<long> ReadControlFrameAsync(int stream, CancellationToken cancellationToken)
    {
        (byte type, byte flags, int id, int length) = await _frames!.NextAsync(cancellationToken);
        if (type == WindowUpdate && id == stream && length == 4)
        {
            return BinaryPrimitives.ReadInt32BigEndian(_frames.Payload) & int.MaxValue;
        }
        if (type == RstStream && id == stream)
        {
            throw new BadResponseException("gRPC stream reset by the server");
        }
        await HandleConnectionFrameAsync(type, flags, id, cancellationToken);
        return 0;
    }

    private async ValueTask<Outcome> ReadAnswerAsync(int stream, CancellationToken cancellationToken)
    {
        _answer.Reset();
        while (true)
        {
            (byte type, byte flags, int id, _) = await _frames!.NextAsync(cancellationToken);
            if (id != stream || type is not (Data or Headers or RstStream or Continuation))
            {
                await HandleConnectionFrameAsync(type, flags, id, cancellationToken);
                continue;
            }
            if (type == RstStream)
            {
                throw new BadResponseException("gRPC stream reset by the server");
            }
            if (type == Data)
            {
                _answer.OnData(flags, _frames.Payload);
                await CountReceivedAsync(_frames.Payload.Length, cancellationToken);
            }
            else
            {
                _answer.OnHeaders(type, flags, _frames.Payload);
            }
            if ((flags & EndStream) != 0 && type != Continuation)
            {
                return _answer.ToOutcome();
            }
        }
    }

    /// <summary>SETTINGS, PING, WINDOW_UPDATE and GOAWAY on the connection; frames of finished streams are dropped.</summary>
    private async ValueTask HandleConnectionFrameAsync(byte type, byte flags, int id, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> payload = _frames!.Payload;
        switch (type)
        {
            case Settings when (flags & Ack) == 0:
                _streamSendWindowInitial = InitialWindow(payload) ?? _streamSendWindowInitial;
                WriteFrameHeader(_out, 0, Settings, Ack, 0);
                await SendAllAsync(FrameHeader, cancellationToken);
                break;
            case Ping when (flags & Ack) == 0 && payload.Length == 8:
                WriteFrameHeader(_out, 8, Ping, Ack, 0);   // PING ACK with the same data
                payload.CopyTo(_out.AsSpan(FrameHeader));
                await SendAllAsync(FrameHeader + 8, cancellationToken);
                break;
            case WindowUpdate when id == 0 && payload.Length == 4:
                _sendWindow += BinaryPrimitives.ReadInt32BigEndian(payload) & int.MaxValue;
                break;
            case GoAway:
                throw new BadResponseException("the server closed the HTTP/2 connection (GOAWAY)");
            case Data:
                await CountReceivedAsync(payload.Length, cancellationToken);
                break;
        }
    }

    private async ValueTask CountReceivedAsync(int length, CancellationToken cancellationToken)
    {
        _received += length;
        if (_received > ReceiveWindow / 2)
        {
            int n = WriteWindowUpdate(_out, 0, (int)_received);
            _received = 0;
            await SendAllAsync(n, cancellationToken);
        }
    }

    private ValueTask SendAllAsync(int count, CancellationToken cancellationToken) =>
        _transport!.SendAsync(_out.AsMemory(0, count), cancellationToken);

    private void Close()
    {
        _transport?.Dispose();
        _transport = null;
        _frames = null;
    }

    public ValueTask DisposeAsync()
    {
        _transport?.CloseGracefully();
        _transport = null;
        return ValueTask.CompletedTask;
    }
}
