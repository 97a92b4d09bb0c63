namespace MarketIntel.Abstractions;

/// <summary>One bar of an asset. <see cref="Timestamp"/> is Unix time in milliseconds.</summary>
[GenerateSerializer, Immutable]
public sealed record BarData(
    [property: Id(0)] long Timestamp,
    [property: Id(1)] double Open,
    [property: Id(2)] double High,
    [property: Id(3)] double Low,
    [property: Id(4)] double Close,
    [property: Id(5)] double Volume);

/// <summary>What happened to a batch of bars: accepted, ignored (already seen timestamps) or rejected, with reasons.</summary>
[GenerateSerializer, Immutable]
public sealed record IngestResult(
    [property: Id(0)] int Accepted,
    [property: Id(1)] int Ignored,
    [property: Id(2)] int Rejected,
    [property: Id(3)] IReadOnlyList<string> Reasons);

/// <summary>
/// A model version registered with the grid, or an alias of a model name (<see cref="ForAlias"/>): a reference that
/// the grid resolves to a version when it predicts, so that moving the alias moves every asset assigned to it.
/// An alias is kept as a version starting with <see cref="AliasMark"/>, which no registered version may start with,
/// so that assignments and the default stay one (name, version) pair in storage.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ModelRef([property: Id(0)] string Name, [property: Id(1)] string Version)
{
    /// <summary>What starts the version part of an alias reference.</summary>
    public const char AliasMark = '@';

    /// <summary>A reference to the alias <paramref name="alias"/> of the model <paramref name="name"/>.</summary>
    public static ModelRef ForAlias(string name, string alias) => new(name, AliasMark + alias);

    /// <summary>Whether this names an alias rather than a version.</summary>
    public bool IsAlias => Version.Length > 0 && Version[0] == AliasMark;

    /// <summary>The alias's name, or null when this names a version.</summary>
    public string? Alias => IsAlias ? Version[1..] : null;

    public override string ToString() => IsAlias ? $"{Name}@{Version[1..]} (alias)" : $"{Name}@{Version}";
}

/// <summary>
/// A registered model's description. <see cref="Label"/> is what its lineage says it predicts, as a label column
/// name (<c>up_K</c>, <c>logret_K</c>: see <c>MarketIntel.Features.LabelDefinition</c>), or null when it came with no
/// lineage: live scoring needs it to know which outcome, how many bars later, a prediction is scored against.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ModelInfo(
    [property: Id(0)] ModelRef Model,
    [property: Id(1)] string Kind,
    [property: Id(2)] IReadOnlyList<string>? FeatureNames,
    [property: Id(3)] int FeatureCount,
    [property: Id(4)] IReadOnlyList<string> OutputNames,
    [property: Id(5)] string? Label = null);

/// <summary>An asset's prediction: the model's outputs for the asset's latest features.</summary>
[GenerateSerializer, Immutable]
public sealed record PredictionResult(
    [property: Id(0)] string Asset,
    [property: Id(1)] IReadOnlyList<float> Values,
    [property: Id(2)] ModelRef Model,
    [property: Id(3)] long AsOf);

/// <summary>An asset's latest feature values by name (NaN while a feature is undefined), as of a bar's timestamp.</summary>
[GenerateSerializer, Immutable]
public sealed record FeatureSnapshot(
    [property: Id(0)] string Asset,
    [property: Id(1)] long AsOf,
    [property: Id(2)] IReadOnlyList<string> Names,
    [property: Id(3)] IReadOnlyList<double> Values);

/// <summary>A request the grid cannot serve as asked: the message names what is wrong.</summary>
[GenerateSerializer]
public sealed class GridException : Exception
{
    public GridException()
    {
    }

    public GridException(string message)
        : base(message)
    {
    }

    public GridException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public GridException(GridErrorKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    /// <summary>Which status the API reports for it.</summary>
    [Id(0)]
    public GridErrorKind Kind { get; init; }

    /// <summary>
    /// When the grid is overloaded: how long a client should wait before it retries (sent as gRPC's
    /// <c>grpc-retry-pushback-ms</c> trailer and HTTP's <c>Retry-After</c>); null when the grid has no advice.
    /// </summary>
    [Id(1)]
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// A retryable error for a server the grid depends on failing: what could not be done, and the innermost
    /// cause in one line (wrappers such as Orleans' put whole stack traces into their messages).
    /// </summary>
    public static GridException Unavailable(string what, Exception cause)
    {
        ArgumentNullException.ThrowIfNull(cause);
        Exception inner = cause.GetBaseException();
        string message = inner.Message;
        int end = message.IndexOfAny(['\r', '\n']);
        return new GridException(GridErrorKind.Unavailable, $"{what} ({inner.GetType().Name}: {(end < 0 ? message : message[..end])}); retry");
    }
}

/// <summary>What makes an asset symbol acceptable: 1 to 64 characters, none of them white space or control characters.</summary>
public static class AssetSymbol
{
    public const int MaxLength = 64;

    /// <summary>Why <paramref name="symbol"/> is not an acceptable asset symbol, or null when it is.</summary>
    public static string? Problem(string? symbol)
    {
        if (string.IsNullOrEmpty(symbol))
        {
            return "asset symbol must not be empty";
        }
        if (symbol.Length > MaxLength)
        {
            return $"asset symbol '{symbol[..16]}...' is {symbol.Length} characters long; the limit is {MaxLength}";
        }
        // Printable ASCII only: white space and control characters break logs and keys, and look-alike letters
        // from other scripts (Cyrillic 'А' for Latin 'A') would make two assets that read the same.
        int bad = symbol.AsSpan().IndexOfAnyExceptInRange('!', '~');
        return bad < 0 ? null
            : $"asset symbol '{Printable(symbol)}' has {(char.IsWhiteSpace(symbol[bad]) ? "white space" : char.IsControl(symbol[bad]) ? "a control character" : $"'{symbol[bad]}' (U+{(int)symbol[bad]:X4})")} at position {bad + 1}; symbols are printable ASCII without spaces";
    }

    private static string Printable(string symbol) => new(symbol.Select(c => char.IsControl(c) ? '?' : c).ToArray());

    /// <summary>Throws an <see cref="GridErrorKind.InvalidArgument"/> error when <paramref name="symbol"/> is not acceptable.</summary>
    public static void Validate(string? symbol)
    {
        if (Problem(symbol) is { } problem)
        {
            throw new GridException(GridErrorKind.InvalidArgument, problem);
        }
    }
}

/// <summary>Error kinds, mapped to gRPC and HTTP statuses by the API.</summary>
public enum GridErrorKind
{
    InvalidArgument,
    NotFound,
    FailedPrecondition,

    /// <summary>A server the grid depends on (PostgreSQL in cluster mode) failed; the request may be retried.</summary>
    Unavailable,

    /// <summary>The request carries no valid API key.</summary>
    Unauthenticated,

    /// <summary>The request's key has a role that may not do this.</summary>
    PermissionDenied,

    /// <summary>The request is over a limit of the grid's (its message names the limit and its setting).</summary>
    ResourceExhausted,
}
