using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Grpc.Core;
using MarketIntel.Api.V1;

namespace MarketIntel.LoadTest;

/// <summary>
/// The parts of HTTP/2 (prior knowledge without TLS, or ALPN h2 over TLS) and gRPC framing the load test's gRPC
/// client (<see cref="GrpcH2Connection"/>) uses: frame and settings encoding, the request header block, and reading
/// statuses from header blocks coded against the static HPACK table. The client asks the server for no dynamic table
/// (SETTINGS_HEADER_TABLE_SIZE 0), so answers decode against the static table alone; a Huffman-coded status it cannot
/// read is reported as a bad response.
/// </summary>
internal static class Http2Frames
{
    public const int FrameHeader = 9;
    public const int MaxFrame = 16_384;               // SETTINGS_MAX_FRAME_SIZE, both ways (the protocol default)
    public const int ReceiveWindow = 1 << 30;         // granted at once and topped up: answers are never held back

    public const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7, WindowUpdate = 0x8, Continuation = 0x9;
    public const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;

    private static readonly byte[] Preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

    /// <summary>The connection preface, our SETTINGS (no dynamic header table, no push, a large stream window) and a connection window top-up.</summary>
    public static int WriteConnectionStart(Span<byte> to)
    {
        Preface.CopyTo(to);
        int n = Preface.Length;
        n += WriteFrameHeader(to[n..], 18, Settings, 0, 0);
        n += WriteSetting(to[n..], 0x1, 0);
        n += WriteSetting(to[n..], 0x2, 0);
        n += WriteSetting(to[n..], 0x4, ReceiveWindow);
        n += WriteWindowUpdate(to[n..], 0, ReceiveWindow - 65_535);
        return n;
    }

    public static int WriteFrameHeader(Span<byte> to, int length, byte type, byte flags, int stream)
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

    public static int WriteWindowUpdate(Span<byte> to, int stream, int increment)
    {
        WriteFrameHeader(to, 4, WindowUpdate, 0, stream);
        BinaryPrimitives.WriteInt32BigEndian(to[FrameHeader..], increment);
        return FrameHeader + 4;
    }

    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE from a SETTINGS frame's payload, or null when it does not set it.</summary>
    public static long? InitialWindow(ReadOnlySpan<byte> settings)
    {
        long? window = null;
        for (int i = 0; i + 6 <= settings.Length; i += 6)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(settings[i..]) == 0x4)
            {
                window = BinaryPrimitives.ReadUInt32BigEndian(settings[(i + 2)..]);
            }
        }
        return window;
    }

    /// <summary>
    /// The request's header block, the same for every call: <c>POST</c>, <c>http</c> (<c>https</c> over TLS), the
    /// method's path, the authority, <c>content-type: application/grpc</c>, <c>te: trailers</c> and, given a key,
    /// <c>authorization: Bearer KEY</c>, as HPACK literals without indexing.
    /// </summary>
    public static byte[] HeaderBlock(string path, string authority, string? apiKey = null, bool tls = false)
    {
        // :method POST, and :scheme http or https (static table): Kestrel refuses a scheme its connection does not have.
        var block = new List<byte> { 0x83, tls ? (byte)0x87 : (byte)0x86 };
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
        if (apiKey is not null)
        {
            Literal(23, null, "Bearer " + apiKey);             // authorization
        }
        return block.ToArray();
    }

    /// <summary>The statuses in a HEADERS or CONTINUATION frame's payload.</summary>
    public static (int HttpStatus, int GrpcStatus) ReadHeaderFrame(byte type, byte flags, ReadOnlySpan<byte> payload)
    {
        if ((flags & EndHeaders) == 0)
        {
            throw new BadResponseException("bad response: header blocks split over CONTINUATION frames are not supported");
        }
        if (type == Headers)
        {
            payload = Unpad(payload, flags);
            if ((flags & Priority) != 0)
            {
                payload = payload[5..];   // PRIORITY fields
            }
        }
        return DecodeHeaders(payload);
    }

    /// <summary>The <c>:status</c> and <c>grpc-status</c> of a header block coded against the static table only.</summary>
    public static (int HttpStatus, int GrpcStatus) DecodeHeaders(ReadOnlySpan<byte> block)
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

    public static ReadOnlySpan<byte> Unpad(ReadOnlySpan<byte> payload, byte flags)
    {
        if ((flags & Padded) == 0)
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
}

/// <summary>Frames read off one connection; a frame's payload stays readable until the next is read.</summary>
internal sealed class Http2FrameReader(LoadTransport transport)
{
    private readonly byte[] _in = new byte[4 * (Http2Frames.MaxFrame + Http2Frames.FrameHeader)];
    private int _start;
    private int _end;
    private int _length;

    /// <summary>Whether the next frame is already whole in the buffer, so <see cref="NextAsync"/> will not wait for the socket.</summary>
    public bool HasBufferedFrame
    {
        get
        {
            int next = _start + _length;
            return _end - next >= Http2Frames.FrameHeader && _end - next - Http2Frames.FrameHeader >= ((_in[next] << 16) | (_in[next + 1] << 8) | _in[next + 2]);
        }
    }

    /// <summary>The payload of the frame <see cref="NextAsync"/> returned last.</summary>
    public ReadOnlySpan<byte> Payload => _in.AsSpan(_start, _length);

    /// <summary>The next frame's header; its payload is then <see cref="Payload"/>.</summary>
    public async ValueTask<(byte Type, byte Flags, int Stream, int Length)> NextAsync(CancellationToken cancellationToken)
    {
        _start += _length;
        _length = 0;
        await FillAsync(Http2Frames.FrameHeader, cancellationToken);
        ReadOnlySpan<byte> h = _in.AsSpan(_start, Http2Frames.FrameHeader);
        int length = (h[0] << 16) | (h[1] << 8) | h[2];
        byte type = h[3];
        byte flags = h[4];
        int stream = BinaryPrimitives.ReadInt32BigEndian(h[5..]) & int.MaxValue;
        if (length > Http2Frames.MaxFrame)
        {
            throw new BadResponseException($"bad response: a {length}-byte frame over the {Http2Frames.MaxFrame}-byte limit");
        }
        _start += Http2Frames.FrameHeader;
        await FillAsync(length, cancellationToken);
        _length = length;
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
            int n = await transport.ReceiveAsync(_in.AsMemory(_end), cancellationToken);
            if (n == 0)
            {
                throw new BadResponseException("connection closed mid-response");
            }
            _end += n;
        }
    }
}

/// <summary>What one call's answer frames said, and the outcome they add up to.</summary>
internal sealed class GrpcAnswer(bool batch)
{
    private byte[] _message = new byte[16 * 1024];
    private int _messageLength;
    private int _httpStatus;
    private int _grpcStatus;
    private bool _inTrailers;

    public void Reset()
    {
        _messageLength = 0;
        _httpStatus = 0;
        _grpcStatus = -1;
        _inTrailers = false;
    }

    /// <summary>A DATA frame of the call (PredictBatch answers are kept to count their entries).</summary>
    public void OnData(byte flags, ReadOnlySpan<byte> payload)
    {
        if (!batch)
        {
            return;
        }
        payload = Http2Frames.Unpad(payload, flags);
        if (_messageLength + payload.Length > _message.Length)
        {
            Array.Resize(ref _message, Math.Max(_message.Length * 2, _messageLength + payload.Length));
        }
        payload.CopyTo(_message.AsSpan(_messageLength));
        _messageLength += payload.Length;
    }

    /// <summary>A HEADERS frame of the call: the response headers, or the trailers after them.</summary>
    public void OnHeaders(byte type, byte flags, ReadOnlySpan<byte> payload)
    {
        (int status, int grpc) = Http2Frames.ReadHeaderFrame(type, flags, payload);
        if (!_inTrailers && status != 0)
        {
            _httpStatus = status;
        }
        if (grpc >= 0)
        {
            _grpcStatus = grpc;
        }
        _inTrailers = true;
    }

    /// <summary>The call's outcome once its stream has ended.</summary>
    public Outcome ToOutcome()
    {
        if (_httpStatus != 200)
        {
            return Outcome.Refused("HTTP " + _httpStatus.ToString(CultureInfo.InvariantCulture));
        }
        if (_grpcStatus != 0)
        {
            return _grpcStatus < 0 ? Outcome.Failed("bad response: no grpc-status") : Outcome.Refused("gRPC " + (StatusCode)_grpcStatus);
        }
        if (!batch)
        {
            return Outcome.Ok(1);
        }
        (int ok, string? failure) = CountBatchResults(_message.AsSpan(0, _messageLength));
        return failure is null ? Outcome.Ok(ok) : new Outcome(true, failure, ok);
    }

    /// <summary>Successful entries of a PredictBatchReply, and the error code of the first failed one.</summary>
    internal static (int Ok, string? Failure) CountBatchResults(ReadOnlySpan<byte> grpcMessage)
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
            if (field != PredictBatchReply.ResultsFieldNumber)
            {
                continue;
            }
            var inner = new ProtoReader(result);
            ReadOnlySpan<byte> code = default;
            while (inner.Next(out int f, out ReadOnlySpan<byte> v))
            {
                if (f == PredictBatchResult.ErrorCodeFieldNumber)
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
