using System.Globalization;

namespace MarketIntel.LoadTest;

/// <summary>What one load test does: where it sends, how hard, for how long, and over which assets.</summary>
public sealed record LoadTestSettings
{
    /// <summary><c>grpc[s]://HOST:PORT</c> or an <c>http[s]://HOST:PORT/path</c> template with <c>{asset}</c> where the symbol goes.</summary>
    public required string Target { get; init; }

    /// <summary>Connections, each with <see cref="Streams"/> requests in flight at a time (closed loop: as fast as answers come).</summary>
    public int Connections { get; init; } = 32;

    /// <summary>gRPC only: calls in flight at once on each HTTP/2 connection, as a gRPC channel multiplexes them (1: one at a time).</summary>
    public int Streams { get; init; } = 1;

    /// <summary>Requests in flight at once: <see cref="Connections"/> x <see cref="Streams"/>, one worker each.</summary>
    public int Workers => Connections * Streams;

    /// <summary>Open loop: requests per second on a fixed schedule; null for closed loop.</summary>
    public double? Rate { get; init; }

    /// <summary>How long to measure after the warm-up; ignored when <see cref="Requests"/> is set.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Measure this many requests (after the warm-up) instead of a duration.</summary>
    public long? Requests { get; init; }

    /// <summary>Load sent first and left out of every figure, so connection set-up and JIT do not count.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A request that has no answer this long after it was due counts as a timeout.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Assets <c>A0 .. A{N-1}</c>, or as many as <see cref="Symbols"/> names.</summary>
    public int Assets { get; init; } = 1000;

    /// <summary>The assets by name, instead of <c>A0 .. A{N-1}</c>.</summary>
    public IReadOnlyList<string>? Symbols { get; init; }

    /// <summary>Zipf exponent for picking assets (A0 the most requested); null for uniform.</summary>
    public double? Zipf { get; init; }

    /// <summary>gRPC only: assets per PredictBatch call; 0 sends Predict.</summary>
    public int Batch { get; init; }

    /// <summary>Push a random feature vector of <see cref="Features"/> values for assets A0 .. A{N-1} first.</summary>
    public int SeedAssets { get; init; }

    public int Features { get; init; }

    /// <summary>Seed of every random choice (assets picked, seeded vectors), so a run can be repeated.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The API key sent with every request (<c>--api-key</c> or MARKETINTEL_API_KEY), or null.</summary>
    public string? ApiKey { get; init; }

    /// <summary>A PEM file of a CA that https:// and grpcs:// targets trust besides the system's roots (<c>--tls-ca</c>), or null.</summary>
    public string? TrustedCa { get; init; }

    /// <summary>Whether the target is https:// or grpcs://.</summary>
    public bool IsTls => Target.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || Target.StartsWith("grpcs://", StringComparison.OrdinalIgnoreCase);

    /// <summary>The most <c>--streams</c>: Kestrel's default limit of concurrent streams per HTTP/2 connection (more would be refused).</summary>
    public const int MaxStreams = 100;

    public bool IsOpenLoop => Rate is not null;

    /// <summary>The symbol of asset <paramref name="index"/>: from <see cref="Symbols"/>, or <c>A{index}</c>.</summary>
    public string AssetName(int index) => Symbols is { } symbols ? symbols[index] : "A" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>Whether requests name an asset: gRPC always does, an HTTP URL only with <c>{asset}</c> in it.</summary>
    public bool NamesAssets => !Target.StartsWith("http", StringComparison.OrdinalIgnoreCase) || Target.Contains("{asset}", StringComparison.Ordinal);

    /// <summary>How the report names the assets.</summary>
    public string AssetsDescription => !NamesAssets ? "none (the URL has no {asset})" : Symbols is { } symbols
        ? (symbols.Count <= 5 ? string.Join(",", symbols) : string.Join(",", symbols.Take(4)) + $",... ({symbols.Count})")
        : $"A0..A{Assets - 1}";
}
