using System.Text;

namespace MarketIntel.Inference.Tests;

/// <summary>
/// Protobuf's wire format written by hand, for tests that need bytes no ONNX tool would write: a field is a
/// tag (number and wire type) and a value, and a message is its fields one after another.
/// </summary>
internal static class Proto
{
    /// <summary>A varint field.</summary>
    public static byte[] Varint(int field, ulong value) => [.. RawVarint(((ulong)field << 3) | 0), .. RawVarint(value)];

    /// <summary>A length-delimited field holding the fields or bytes given, one after another.</summary>
    public static byte[] Message(int field, params byte[][] content)
    {
        byte[] body = [.. content.SelectMany(c => c)];
        return [.. RawVarint(((ulong)field << 3) | 2), .. RawVarint((ulong)body.Length), .. body];
    }

    /// <summary>A string field.</summary>
    public static byte[] String(int field, string value) => Message(field, Encoding.UTF8.GetBytes(value));

    /// <summary>Fields one after another, as a message's body or a whole top-level message.</summary>
    public static byte[] Concat(params byte[][] fields) => [.. fields.SelectMany(f => f)];

    public static byte[] RawVarint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }

    // ONNX's field numbers (onnx.proto), the few these tests use.

    /// <summary>A ModelProto with this GraphProto body as its graph (field 7).</summary>
    public static byte[] Model(byte[] graph) => Message(7, graph);

    /// <summary>A GraphProto's initializer (field 5) with this TensorProto body.</summary>
    public static byte[] Initializer(byte[] tensor) => Message(5, tensor);

    /// <summary>A GraphProto's node (field 1): op_type (4), name (3) and attributes (5) with these AttributeProto bodies.</summary>
    public static byte[] Node(string op, string name, params byte[][] attributes) =>
        Message(1, [String(4, op), String(3, name), .. attributes.Select(a => Message(5, a))]);

    /// <summary>An AttributeProto body: name (1) and a graph (6) with this GraphProto body.</summary>
    public static byte[] GraphAttribute(string name, byte[] graph) => Concat(String(1, name), Message(6, graph));

    /// <summary>A TensorProto body: name (8), float data type (2), dims (1).</summary>
    public static byte[] Tensor(string name, params byte[][] more) => Concat([String(8, name), Varint(2, 1), Varint(1, 1), .. more]);

    /// <summary>A TensorProto's external_data entry (13): a key/value StringStringEntryProto.</summary>
    public static byte[] ExternalData(string key, string value) => Message(13, String(1, key), String(2, value));

    /// <summary>A TensorProto's data_location (14): 1 is EXTERNAL.</summary>
    public static byte[] DataLocation(ulong value) => Varint(14, value);
}
