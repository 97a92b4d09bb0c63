using System.Text;
using System.Text.RegularExpressions;

namespace MarketIntel.Inference.Onnx;

/// <summary>
/// ONNX Runtime's error messages as a client may read them. They go back to whoever sent the model, and as
/// ONNX Runtime writes them they carry its build's source paths and C++ signatures
/// (<c>/onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::...(...)</c>),
/// and could say things about the server's files. What is kept is what tells the sender what is wrong with
/// the model: the operator, the node, the shapes and types.
/// </summary>
internal static partial class OnnxErrors
{
    private const int MaxLength = 400;

    /// <summary>The message without source locations, signatures, paths or error-code prefixes; file talk becomes one fixed phrase.</summary>
    public static string Sanitize(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        // ONNX Runtime quotes the model's own names, which a client chooses and may make megabytes long; the
        // patterns below backtrack, so they only ever see the start, where the useful part is.
        string text = message.Length <= 4 * MaxLength ? message : message[..(4 * MaxLength)];
        text = ErrorCodePrefix().Replace(text, " ");
        text = WithoutSourceLocations(text);
        text = AbsolutePath().Replace(text, "<path>");
        if (FileTalk().IsMatch(text))
        {
            // Defence in depth: the model check stops external data before ONNX Runtime, so this should not
            // happen; if it does, the answer must not tell which files exist.
            return "it refers to data outside the model, which is refused";
        }
        text = Whitespace().Replace(text, " ").Trim().TrimEnd('.');
        return text.Length <= MaxLength ? text : string.Concat(text.AsSpan(0, MaxLength), "…");
    }

    /// <summary>Whether ONNX Runtime failed because its memory budget had no room left.</summary>
    public static bool IsOutOfMemory(string message) =>
        message.Contains("Available memory of", StringComparison.Ordinal) || message.Contains("Failed to allocate memory", StringComparison.Ordinal);

    // "dir/file.cc:123" and, when one follows, the C++ signature after it up to its matching parenthesis.
    private static string WithoutSourceLocations(string text)
    {
        var result = new StringBuilder(text.Length);
        int from = 0;
        foreach (Match location in SourceLocation().Matches(text))
        {
            if (location.Index < from)
            {
                continue;
            }
            result.Append(text, from, location.Index - from);
            from = location.Index + location.Length;
            Match signature = SignatureStart().Match(text, from);
            if (signature.Success && signature.Index == from)
            {
                int depth = 0, i = signature.Index + signature.Length - 1;
                for (; i < text.Length; i++)
                {
                    depth += text[i] switch { '(' => 1, ')' => -1, _ => 0 };
                    if (depth == 0)
                    {
                        break;
                    }
                }
                from = Math.Min(i + 1, text.Length);
            }
        }
        result.Append(text, from, text.Length - from);
        return result.ToString();
    }

    [GeneratedRegex(@"\[ErrorCode:\w+\]|\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:")]
    private static partial Regex ErrorCodePrefix();

    [GeneratedRegex(@"(?:/?[\w.+-]+/)*[\w.+-]+\.(?:cc|cpp|cxx|c|h|hpp|inc)\b(?::\d+)?")]
    private static partial Regex SourceLocation();

    // A qualified name, after up to three words of return type, right before its parenthesis: " void* onnxruntime::A::B(".
    [GeneratedRegex(@"\s*(?:[\w:<>,*&]+\s){0,3}[\w:<>~]*::[\w~<>]+\(")]
    private static partial Regex SignatureStart();

    [GeneratedRegex(@"(?<![\w.])/(?:[\w.+-]+/)+[\w.+-]*")]
    private static partial Regex AbsolutePath();

    [GeneratedRegex(@"no such file|open file|failed to open|errno|model_path|external data|external initializer", RegexOptions.IgnoreCase)]
    private static partial Regex FileTalk();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
