namespace MarketIntel.Inference.Onnx;

/// <summary>The wire types of protobuf's encoding: how a field's value is laid out after its tag.</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    Len = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// Reads protobuf's wire format from a span, one field at a time, without a schema: a tag (field number and
/// wire type), then the value, which a caller reads if it knows the field or skips if not. Every read is
/// bounds-checked and every failure is a <see cref="ModelFormatException"/> naming the byte offset, so bytes
/// from a client can only be read or refused. Nested messages come back as readers over their own bytes, so
/// the caller controls (and bounds) how deep it goes. Groups, deprecated and never used by ONNX, are refused
/// rather than skipped.
/// </summary>
internal ref struct ProtoReader
{
    private const int MaxFieldNumber = (1 << 29) - 1;

    private readonly ReadOnlySpan<byte> _data;
    private readonly int _offset; // where _data starts in the whole model, for messages
    private readonly string _source;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> data, string source)
        : this(data, 0, source)
    {
    }

    private ProtoReader(ReadOnlySpan<byte> data, int offset, string source)
    {
        _data = data;
        _offset = offset;
        _source = source;
        _position = 0;
    }

    /// <summary>Whether every field has been read.</summary>
    public readonly bool End => _position >= _data.Length;

    /// <summary>The next field's number and wire type.</summary>
    public (int Field, WireType Type) ReadTag()
    {
        int at = _position;
        ulong tag = ReadVarint();
        ulong field = tag >> 3;
        var type = (WireType)(tag & 7);
        if (field == 0 || field > MaxFieldNumber)
        {
            throw Malformed($"field number {field} is not valid", at);
        }
        if (type is WireType.StartGroup or WireType.EndGroup)
        {
            throw Malformed($"field {field} is a protobuf group, which ONNX does not use", at);
        }
        if ((int)type > (int)WireType.Fixed32)
        {
            throw Malformed($"wire type {(int)type} is not valid", at);
        }
        return ((int)field, type);
    }

    /// <summary>A varint: at most ten bytes, the tenth holding only the 64th bit.</summary>
    public ulong ReadVarint()
    {
        int at = _position;
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw Malformed("a varint runs past the end of its message", at);
            }
            byte b = _data[_position++];
            if (shift == 63 && b > 1)
            {
                throw Malformed("a varint is longer than 64 bits", at);
            }
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw Malformed("a varint is longer than ten bytes", at);
    }

    /// <summary>The value of a length-delimited field (a message, string or bytes), which the tag said it is.</summary>
    public ReadOnlySpan<byte> ReadBytes(int field, WireType type)
    {
        int at = _position;
        if (type != WireType.Len)
        {
            throw Malformed($"field {field} has wire type {(int)type} where a length-delimited value belongs", at);
        }
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw Malformed($"field {field} says it is {length} bytes long, but only {_data.Length - _position} remain in its message", at);
        }
        ReadOnlySpan<byte> value = _data.Slice(_position, (int)length);
        _position += (int)length;
        return value;
    }

    /// <summary>The value of an embedded message field, as a reader over its bytes.</summary>
    public ProtoReader ReadMessage(int field, WireType type)
    {
        ReadOnlySpan<byte> bytes = ReadBytes(field, type);
        return new ProtoReader(bytes, _offset + _position - bytes.Length, _source);
    }

    /// <summary>The value of a varint field, which the tag said it is.</summary>
    public ulong ReadVarint(int field, WireType type)
    {
        if (type != WireType.Varint)
        {
            throw Malformed($"field {field} has wire type {(int)type} where a varint belongs", _position);
        }
        return ReadVarint();
    }

    /// <summary>Steps over the value of a field this reader's caller does not need.</summary>
    public void Skip(int field, WireType type)
    {
        int at = _position;
        switch (type)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Len:
                ReadBytes(field, type);
                break;
            case WireType.Fixed64 or WireType.Fixed32:
                int size = type == WireType.Fixed64 ? 8 : 4;
                if (_data.Length - _position < size)
                {
                    throw Malformed($"field {field} runs past the end of its message", at);
                }
                _position += size;
                break;
            default:
                throw Malformed($"field {field} has wire type {(int)type}, which cannot be skipped", at);
        }
    }

    /// <summary>The first value of a string field in this message, read from a copy so this reader stays where it is.</summary>
    public readonly string? FindString(int wanted)
    {
        ProtoReader copy = this;
        while (!copy.End)
        {
            var (field, type) = copy.ReadTag();
            if (field == wanted && type == WireType.Len)
            {
                return System.Text.Encoding.UTF8.GetString(copy.ReadBytes(field, type));
            }
            copy.Skip(field, type);
        }
        return null;
    }

    private readonly ModelFormatException Malformed(string problem, int at) =>
        new(_source, $"not a model XGBoost JSON or ONNX Runtime can load (the protobuf is malformed: {problem}, at byte {_offset + at})");
}
