using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;

namespace MarketIntel.Cli.LoadTest;

/// <summary>
/// One HTTP/2 connection (prior knowledge, no TLS) carrying unary gRPC calls, one at a time, written and read
/// directly on a socket. Grpc.Net.Client spent more CPU per call than the grid's server did (26 µs against 19 µs
/// on the 2-core VM), so on a machine shared with the server the load generator, not the server, set the figure.
/// This client sends a header block computed once per target and a hand-encoded request message, and reads
/// only what it needs from the answer: the HTTP status, <c>grpc-status</c>, and for PredictBatch the failed
/// entries. It asks the server for no HPACK dynamic table (SETTINGS_HEADER_TABLE_SIZE 0), so answers decode
/// against the static table alone; a Huffman-coded status it cannot read is reported as a bad response.
/// </summary>
internal sealed class GrpcH2Connection(EndPoint endPoint, byte[] headerBlock, GrpcH2Connection.MessageWriter writeMessage, bool batch) : ILoadConnection
{
    /// <summary>Writes one request message (protobuf, without the gRPC prefix); returns its length, or -1 when it does not fit.</summary>
    public delegate int MessageWriter(AssetPicker picker, Random random, Span<byte> destination);

    private const int FrameHeader = 9;
    private const int MaxFrame = 16_384;               // SETTINGS_MAX_FRAME_SIZE, both ways (the protocol default)
    private const int ReceiveWindow = 1 << 30;         // granted at once and topped up: answers are never held back
    private static readonly byte[] Preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

    private readonly byte[] _in = new byte[4 * (MaxFrame + FrameHeader)];
    private byte[] _out = new byte[64 * 1024];
    private byte[] _message = new byte[16 * 1024];
    private byte[] _answer = new byte[16 * 1024];
    private Socket? _socket;
    private int _start;
    private int _end;
    private int _nextStream;
    private long _sendWindow;                          // connection-level, what the server lets us send
    private long _streamSendWindowInitial;
    private long _received;                            // DATA bytes since the last WINDOW_UPDATE we sent

    public async ValueTask<Outcome> SendAsync(AssetPicker picker, Random random, CancellationToken cancellationToken)
    {
        try
        {
            if (_socket is null)
            {
                await ConnectAsync(cancellationToken);
            }
            int messageLength;
            while ((messageLength = writeMessage(picker, random, _message.AsSpan(5))) < 0)
            {
                _message = new byte[_message.Length * 2];
            }
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

    private async ValueTask ConnectAsync(CancellationToken cancellationToken)
    {
        _socket = await LoadSockets.ConnectAsync(endPoint, cancellationToken);
        _start = _end = 0;
        _nextStream = 1;
        _sendWindow = 65_535;
        _streamSendWindowInitial = 65_535;
        _received = 0;
        int n = 0;
        Preface.CopyTo(_out, 0);
        n += Preface.Length;
        // SETTINGS: no dynamic header table, no server push, a large per-stream receive window.
        n += WriteFrameHeader(_out.AsSpan(n), 18, 0x4, 0, 0);
        n += WriteSetting(_out.AsSpan(n), 0x1, 0);
        n += WriteSetting(_out.AsSpan(n), 0x2, 0);
        n += WriteSetting(_out.AsSpan(n), 0x4, ReceiveWindow);
        n += WriteWindowUpdate(_out.AsSpan(n), 0, ReceiveWindow - 65_535);
        await SendAllAsync(n, cancellationToken);
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
        int n = WriteFrameHeader(_out, headerBlock.Length, 0x1, 0x4, stream);   // HEADERS, END_HEADERS
        headerBlock.CopyTo(_out, n);
        n += headerBlock.Length;
        // The gRPC prefix (not compressed, length) in front of the message, then DATA frames of at most MaxFrame
        // bytes, each sent only when both flow-control windows allow it.
        _message[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(_message.AsSpan(1), messageLength);
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
            n += WriteFrameHeader(_out.AsSpan(n), chunk, 0x0, last ? (byte)0x1 : (byte)0, stream);
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
        (byte type, byte flags, int id, int length) = await ReadFrameAsync(cancellationToken);
        long granted = 0;
        if (type == 0x8 && id == stream && length == 4)
        {
            granted = BinaryPrimitives.ReadInt32BigEndian(_in.AsSpan(_start)) & int.MaxValue;
        }
        else if (type == 0x3 && id == stream)
        {
            throw new BadResponseException("gRPC stream reset by the server");
        }
        else
        {
            await HandleConnectionFrameAsync(type, flags, id, length, cancellationToken);
        }
        _start += length;
        return granted;
    }

    private async ValueTask<Outcome> ReadAnswerAsync(int stream, CancellationToken cancellationToken)
    {
        int httpStatus = 0;
        int grpcStatus = -1;
        int answerLength = 0;
        bool inTrailers = false;
        while (true)
        {
            (byte type, byte flags, int id, int length) = await ReadFrameAsync(cancellationToken);
            if (id != stream || type is not (0x0 or 0x1 or 0x3 or 0x9))
            {
                await HandleConnectionFrameAsync(type, flags, id, length, cancellationToken);
                _start += length;
                continue;
            }
            if (type == 0x3)
            {
                _start += length;
                throw new BadResponseException("gRPC stream reset by the server");
            }
            if (type == 0x0)
            {
                if (batch)
                {
                    answerLength = KeepData(length, flags, answerLength);
                }
                await CountReceivedAsync(length, cancellationToken);
            }
            else
            {
                (int status, int grpc) = ReadHeaderFrame(type, flags, length);
                if (!inTrailers && status != 0)
                {
                    httpStatus = status;
                }
                if (grpc >= 0)
                {
                    grpcStatus = grpc;
                }
                inTrailers = true;
            }
            _start += length;
            if ((flags & 0x1) != 0 && type != 0x9)
            {
                break;
            }
        }
        if (httpStatus != 200)
        {
            return Outcome.Refused("HTTP " + httpStatus.ToString(CultureInfo.InvariantCulture));
        }
        if (grpcStatus != 0)
        {
            return grpcStatus < 0 ? Outcome.Failed("bad response: no grpc-status") : Outcome.Refused("gRPC " + (StatusCode)grpcStatus);
        }
        if (!batch)
        {
            return Outcome.Ok(1);
        }
        (int ok, string? failure) = CountBatchResults(_answer.AsSpan(0, answerLength));
        return failure is null ? Outcome.Ok(ok) : new Outcome(true, failure, ok);
    }

    /// <summary>Appends a DATA frame's payload (without padding) to the answer kept for PredictBatch; returns its new length.</summary>
    private int KeepData(int length, byte flags, int answerLength)
    {
        ReadOnlySpan<byte> payload = Unpad(_in.AsSpan(_start, length), flags);
        if (answerLength + payload.Length > _answer.Length)
        {
            Array.Resize(ref _answer, Math.Max(_answer.Length * 2, answerLength + payload.Length));
        }
        payload.CopyTo(_answer.AsSpan(answerLength));
        return answerLength + payload.Length;
    }

    /// <summary>The statuses in a HEADERS frame's block.</summary>
    private (int HttpStatus, int GrpcStatus) ReadHeaderFrame(byte type, byte flags, int length)
    {
        ReadOnlySpan<byte> payload = _in.AsSpan(_start, length);
        if ((flags & 0x4) == 0)
        {
            throw new BadResponseException("bad response: header blocks split over CONTINUATION frames are not supported");
        }
        if (type == 0x1)
        {
            payload = Unpad(payload, flags);
            if ((flags & 0x20) != 0)
            {
                payload = payload[5..];   // PRIORITY fields
            }
        }
        return DecodeHeaders(payload);
    }

    /// <summary>SETTINGS, PING, WINDOW_UPDATE and GOAWAY on the connection; frames of finished streams are dropped.</summary>
    private async ValueTask HandleConnectionFrameAsync(byte type, byte flags, int id, int length, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> payload = _in.AsSpan(_start, length);
        switch (type)
        {
            case 0x4 when (flags & 0x1) == 0:
                for (int i = 0; i + 6 <= payload.Length; i += 6)
                {
                    int setting = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
                    uint value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                    if (setting == 0x4)
                    {
                        _streamSendWindowInitial = value;
                    }
                }
                WriteFrameHeader(_out, 0, 0x4, 0x1, 0);   // SETTINGS ACK
                await SendAllAsync(FrameHeader, cancellationToken);
                break;
            case 0x6 when (flags & 0x1) == 0 && length == 8:
                WriteFrameHeader(_out, 8, 0x6, 0x1, 0);   // PING ACK with the same data
                payload.CopyTo(_out.AsSpan(FrameHeader));
                await SendAllAsync(FrameHeader + 8, cancellationToken);
                break;
            case 0x8 when id == 0 && length == 4:
                _sendWindow += BinaryPrimitives.ReadInt32BigEndian(payload) & int.MaxValue;
                break;
            case 0x7:
                throw new BadResponseException("the server closed the HTTP/2 connection (GOAWAY)");
            case 0x0:
                await CountReceivedAsync(length, cancellationToken);
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

    /// <summary>The <c>:status</c> and <c>grpc-status</c> of a header block coded against the static table only.</summary>
    internal static (int HttpStatus, int GrpcStatus) DecodeHeaders(ReadOnlySpan<byte> block)
    {
        int httpStatus = 0;
        int grpcStatus = -1;
        int i = 0;
        while (i < block.Length)
        {
            byte b = block[i];
            if ((b & 0x80) != 0)
            {
                int index = (int)ReadInteger(block, ref i, 7);
                httpStatus = index switch { 8 => 200, 9 => 204, 10 => 206, 11 => 304, 12 => 400, 13 => 404, 14 => 500, _ => httpStatus };
                if (index > 61)
                {
                    throw new BadResponseException("bad response: a header refers to a dynamic table this client did not allow");
                }
                continue;
            }
            if ((b & 0xE0) == 0x20)
            {
                ReadInteger(block, ref i, 5);   // dynamic table size update: the table stays empty
                continue;
            }
            int prefix = (b & 0xC0) == 0x40 ? 6 : 4;
            int nameIndex = (int)ReadInteger(block, ref i, prefix);
            ReadOnlySpan<byte> name = nameIndex == 0 ? ReadString(block, ref i, out _) : default;
            ReadOnlySpan<byte> value = ReadString(block, ref i, out bool huffman);
            bool isStatus = nameIndex is >= 8 and <= 14;
            bool isGrpcStatus = nameIndex == 0 && name.SequenceEqual("grpc-status"u8);
            if ((isStatus || isGrpcStatus) && huffman)
            {
                throw new BadResponseException("bad response: a Huffman-coded status this client does not decode");
            }
            if (isStatus && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int s))
            {
                httpStatus = s;
            }
            if (isGrpcStatus)
            {
                grpcStatus = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int g) ? g : (int)StatusCode.Unknown;
            }
        }
        return (httpStatus, grpcStatus);
    }

    private static long ReadInteger(ReadOnlySpan<byte> block, ref int i, int prefixBits)
    {
        int mask = (1 << prefixBits) - 1;
        long value = block[i++] & mask;
        if (value < mask)
        {
            return value;
        }
        for (int shift = 0; ; shift += 7)
        {
            if (i >= block.Length || shift > 28)
            {
                throw new BadResponseException("bad response: a malformed HPACK integer");
            }
            byte b = block[i++];
            value += (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }

    private static ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> block, ref int i, out bool huffman)
    {
        if (i >= block.Length)
        {
            throw new BadResponseException("bad response: a header block ends inside a field");
        }
        huffman = (block[i] & 0x80) != 0;
        int length = (int)ReadInteger(block, ref i, 7);
        if (length > block.Length - i)
        {
            throw new BadResponseException("bad response: a header string runs past its block");
        }
        ReadOnlySpan<byte> s = block.Slice(i, length);
        i += length;
        return s;
    }

    /// <summary>Successful entries of a PredictBatchReply, and the error code of the first failed one.</summary>
    private static (int Ok, string? Failure) CountBatchResults(ReadOnlySpan<byte> grpcMessage)
    {
        if (grpcMessage.Length < 5)
        {
            throw new BadResponseException("bad response: no gRPC message in the answer");
        }
        var reply = grpcMessage[5..];
        int ok = 0;
        string? failure = null;
        var reader = new ProtoReader(reply);
        while (reader.Next(out int field, out ReadOnlySpan<byte> result))
        {
            if (field != 1)
            {
                continue;
            }
            var inner = new ProtoReader(result);
            ReadOnlySpan<byte> code = default;
            while (inner.Next(out int f, out ReadOnlySpan<byte> v))
            {
                if (f == 3)
                {
                    code = v;
                }
            }
            if (code.IsEmpty)
            {
                ok++;
            }
            else
            {
                failure ??= "batch result " + Encoding.UTF8.GetString(code);
            }
        }
        return (ok, failure);
    }

    private static ReadOnlySpan<byte> Unpad(ReadOnlySpan<byte> payload, byte flags)
    {
        if ((flags & 0x8) == 0)
        {
            return payload;
        }
        int pad = payload.IsEmpty ? 0 : payload[0];
        if (1 + pad > payload.Length)
        {
            throw new BadResponseException("bad response: padding longer than its frame");
        }
        return payload[1..^pad];
    }

    /// <summary>The next frame's header; its payload is then at <c>_in[_start.._start+length]</c>.</summary>
    private async ValueTask<(byte Type, byte Flags, int Stream, int Length)> ReadFrameAsync(CancellationToken cancellationToken)
    {
        await FillAsync(FrameHeader, cancellationToken);
        ReadOnlySpan<byte> h = _in.AsSpan(_start, FrameHeader);
        int length = (h[0] << 16) | (h[1] << 8) | h[2];
        byte type = h[3];
        byte flags = h[4];
        int stream = BinaryPrimitives.ReadInt32BigEndian(h[5..]) & int.MaxValue;
        if (length > MaxFrame)
        {
            throw new BadResponseException($"bad response: a {length}-byte frame over the {MaxFrame}-byte limit");
        }
        _start += FrameHeader;
        await FillAsync(length, cancellationToken);
        return (type, flags, stream, length);
    }

    /// <summary>Makes at least <paramref name="count"/> unread bytes available from <c>_start</c>.</summary>
    private async ValueTask FillAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count)
        {
            if (_in.Length - _start < count || _end == _in.Length)
            {
                Buffer.BlockCopy(_in, _start, _in, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int n = await _socket!.ReceiveAsync(_in.AsMemory(_end), SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                throw new BadResponseException("connection closed mid-response");
            }
            _end += n;
        }
    }

    private async ValueTask SendAllAsync(int count, CancellationToken cancellationToken)
    {
        for (int sent = 0; sent < count;)
        {
            sent += await _socket!.SendAsync(_out.AsMemory(sent, count - sent), SocketFlags.None, cancellationToken);
        }
    }

    private static int WriteFrameHeader(Span<byte> to, int length, byte type, byte flags, int stream)
    {
        to[0] = (byte)(length >> 16);
        to[1] = (byte)(length >> 8);
        to[2] = (byte)length;
        to[3] = type;
        to[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(to[5..], stream);
        return FrameHeader;
    }

    private static int WriteSetting(Span<byte> to, ushort id, int value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(to, id);
        BinaryPrimitives.WriteInt32BigEndian(to[2..], value);
        return 6;
    }

    private static int WriteWindowUpdate(Span<byte> to, int stream, int increment)
    {
        WriteFrameHeader(to, 4, 0x8, 0, stream);
        BinaryPrimitives.WriteInt32BigEndian(to[FrameHeader..], increment);
        return FrameHeader + 4;
    }

    private void Close()
    {
        _socket?.Dispose();
        _socket = null;
        _start = _end = 0;
    }

    public ValueTask DisposeAsync()
    {
        LoadSockets.CloseGracefully(_socket);
        _socket = null;
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The request's header block, the same for every call: <c>POST</c>, <c>http</c>, the method's path, the
    /// authority, <c>content-type: application/grpc</c> and <c>te: trailers</c>, as HPACK literals without indexing.
    /// </summary>
    public static byte[] HeaderBlock(string path, string authority)
    {
        var block = new List<byte> { 0x83, 0x86 };            // :method POST, :scheme http (static table)
        void Literal(int nameIndex, string? name, string value)
        {
            block.Add((byte)(nameIndex < 15 ? nameIndex : 15));
            if (nameIndex >= 15)
            {
                block.Add((byte)(nameIndex - 15));
            }
            if (name is not null)
            {
                String(name);
            }
            String(value);
        }
        void String(string s)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(s);
            if (bytes.Length >= 127)
            {
                throw new ArgumentException("header value too long", nameof(s));
            }
            block.Add((byte)bytes.Length);
            block.AddRange(bytes);
        }
        Literal(4, null, path);                                // :path
        Literal(1, null, authority);                           // :authority
        Literal(31, null, "application/grpc");                 // content-type
        Literal(0, "te", "trailers");
        return block.ToArray();
    }

    /// <summary>Reads length-delimited fields of a protobuf message (other wire types are skipped).</summary>
    private ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public bool Next(out int field, out ReadOnlySpan<byte> value)
        {
            while (!_data.IsEmpty)
            {
                ulong key = Varint();
                field = (int)(key >> 3);
                switch ((int)(key & 7))
                {
                    case 0:
                        Varint();
                        break;
                    case 1:
                        Skip(8);
                        break;
                    case 5:
                        Skip(4);
                        break;
                    case 2:
                        int length = (int)Varint();
                        if (length < 0 || length > _data.Length)
                        {
                            throw new BadResponseException("bad response: a malformed protobuf message");
                        }
                        value = _data[..length];
                        _data = _data[length..];
                        return true;
                    default:
                        throw new BadResponseException("bad response: a malformed protobuf message");
                }
            }
            field = 0;
            value = default;
            return false;
        }

        private void Skip(int n)
        {
            if (n > _data.Length)
            {
                throw new BadResponseException("bad response: a malformed protobuf message");
            }
            _data = _data[n..];
        }

        private ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_data.IsEmpty)
                {
                    break;
                }
                byte b = _data[0];
                _data = _data[1..];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }
            throw new BadResponseException("bad response: a malformed protobuf message");
        }
    }
}
