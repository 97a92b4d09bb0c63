using System.Collections.Concurrent;
using System.Reflection;
using System.Text;

namespace MarketIntel.Features.Kernels;

/// <summary>
/// Writes and reads the whole state of a streaming kernel (a struct of numbers, arrays of numbers and nested such
/// structs) field by field, so that a kernel read back continues bit for bit where the written one stood. Fields go in
/// name order, nested structs depth first; a field set at construction (readonly, such as a window's length or a
/// weight sum) is checked rather than set, so state written by a kernel of other parameters is refused.
/// <see cref="Layout"/> describes the fields, for a fingerprint that changes whenever a kernel's fields do (a new
/// build), which makes older checkpoints unreadable rather than wrong.
/// </summary>
internal static class KernelState
{
    private static readonly ConcurrentDictionary<Type, FieldInfo[]> Fields = new();

    private static FieldInfo[] FieldsOf(Type type) => Fields.GetOrAdd(type, static t =>
        t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).OrderBy(f => f.Name, StringComparer.Ordinal).ToArray());

    /// <summary>The kernel type's fields, recursively, as text: two kernels with the same layout read each other's state.</summary>
    public static string Layout(Type type)
    {
        var text = new StringBuilder();
        Describe(type, text);
        return text.ToString();
    }

    private static void Describe(Type type, StringBuilder text)
    {
        text.Append(type.FullName).Append('{');
        foreach (FieldInfo field in FieldsOf(type))
        {
            text.Append(field.Name).Append(field.IsInitOnly ? "!" : "").Append(':');
            if (IsNested(field.FieldType))
            {
                Describe(field.FieldType, text);
            }
            else
            {
                text.Append(field.FieldType.FullName);
            }
            text.Append(';');
        }
        text.Append('}');
    }

    private static bool IsNested(Type type) => type.IsValueType && !type.IsPrimitive && !type.IsEnum;

    /// <summary>Writes every field of the boxed kernel.</summary>
    public static void Write(BinaryWriter writer, object kernel)
    {
        foreach (FieldInfo field in FieldsOf(kernel.GetType()))
        {
            object? value = field.GetValue(kernel);
            switch (value)
            {
                case double d: writer.Write(d); break;
                case long l: writer.Write(l); break;
                case int i: writer.Write(i); break;
                case bool b: writer.Write(b); break;
                case Enum e: writer.Write(Convert.ToInt64(e, System.Globalization.CultureInfo.InvariantCulture)); break;
                case double[] array:
                    writer.Write(array.Length);
                    foreach (double d in array)
                    {
                        writer.Write(d);
                    }
                    break;
                case not null when IsNested(field.FieldType): Write(writer, value); break;
                default: throw new NotSupportedException($"kernel field {kernel.GetType().Name}.{field.Name} of type {field.FieldType.Name} cannot be checkpointed");
            }
        }
    }

    /// <summary>
    /// Reads every field into the boxed kernel (made with the same parameters); false when the state does not fit it
    /// (a construction-time field or an array length differs), and the kernel is then in an unusable state.
    /// </summary>
    public static bool Read(BinaryReader reader, object kernel)
    {
        foreach (FieldInfo field in FieldsOf(kernel.GetType()))
        {
            Type type = field.FieldType;
            object? read;
            if (type == typeof(double))
            {
                read = reader.ReadDouble();
            }
            else if (type == typeof(long))
            {
                read = reader.ReadInt64();
            }
            else if (type == typeof(int))
            {
                read = reader.ReadInt32();
            }
            else if (type == typeof(bool))
            {
                read = reader.ReadBoolean();
            }
            else if (type.IsEnum)
            {
                read = Enum.ToObject(type, reader.ReadInt64());
            }
            else if (type == typeof(double[]))
            {
                var array = (double[])field.GetValue(kernel)!;
                if (reader.ReadInt32() != array.Length)
                {
                    return false;
                }
                for (int i = 0; i < array.Length; i++)
                {
                    array[i] = reader.ReadDouble();
                }
                continue;  // filled in place: the array belongs to the kernel
            }
            else if (IsNested(type))
            {
                object nested = field.GetValue(kernel)!;
                if (!Read(reader, nested))
                {
                    return false;
                }
                field.SetValue(kernel, nested);
                continue;
            }
            else
            {
                throw new NotSupportedException($"kernel field {kernel.GetType().Name}.{field.Name} of type {type.Name} cannot be checkpointed");
            }
            if (field.IsInitOnly)
            {
                // Construction-time constant: it must be what this kernel was built with (bitwise for doubles).
                if (!Equals(read, field.GetValue(kernel)))
                {
                    return false;
                }
            }
            else
            {
                field.SetValue(kernel, read);
            }
        }
        return true;
    }
}
