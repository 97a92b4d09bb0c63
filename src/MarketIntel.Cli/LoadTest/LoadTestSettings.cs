using System.Globalization;

namespace MarketIntel.Cli.LoadTest;

/// <summary>What one load test does: where it sends, how hard, for how long, and over which assets.</summary>
internal sealed record LoadTestSettings
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

    /// <summary>The <c>loadtest</c> command line as settings; every value is checked and a bad one named.</summary>
    public static LoadTestSettings Parse(CliArguments options)
    {
        string target = options.Required("target");
        double? rate = null;
        if (options.Optional("rate") is { } rateText)
        {
            rate = double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) && double.IsFinite(r) && r > 0 && r <= 10_000_000
                ? r
                : throw new UsageException($"option '--rate': '{rateText}' is not a number of requests per second above 0 (and at most 10,000,000)");
        }
        double? zipf = null;
        if (options.Optional("zipf") is { } zipfText)
        {
            zipf = double.TryParse(zipfText, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && double.IsFinite(s) && s > 0 && s <= 10
                ? s
                : throw new UsageException($"option '--zipf': '{zipfText}' is not an exponent above 0 (and at most 10)");
        }
        long? requests = null;
        if (options.Optional("requests") is { } requestsText)
        {
            requests = long.TryParse(requestsText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n >= 1
                ? n
                : throw new UsageException($"option '--requests': '{requestsText}' is not a whole number of at least 1");
        }
        if (requests is not null && options.Optional("duration") is not null)
        {
            throw new UsageException("give either --duration or --requests, not both");
        }
        int seedAssets = options.OptionalInt("seed-assets", 1, 10_000_000) ?? 0;
        int features = options.OptionalInt("features", 1, 100_000) ?? 0;
        if (seedAssets > 0 && features == 0)
        {
            throw new UsageException("--seed-assets needs --features (how many values each pushed vector has)");
        }
        if (features > 0 && seedAssets == 0)
        {
            throw new UsageException("--features only applies with --seed-assets");
        }
        int batch = options.OptionalInt("batch", 1, 100_000) ?? 0;
        string[]? symbols = null;
        if (options.Optional("symbols") is { } symbolsText)
        {
            if (options.Optional("assets") is not null)
            {
                throw new UsageException("give either --assets (A0..A{N-1}) or --symbols, not both");
            }
            symbols = symbolsText.Split(',', StringSplitOptions.TrimEntries);
            foreach (string symbol in symbols)
            {
                if (Abstractions.AssetSymbol.Problem(symbol) is { } problem)
                {
                    throw new UsageException($"--symbols: {problem}");
                }
            }
            if (seedAssets > symbols.Length)
            {
                throw new UsageException($"--seed-assets {seedAssets} is more than the {symbols.Length} symbols given");
            }
        }
        var settings = new LoadTestSettings
        {
            Target = target,
            Connections = options.OptionalInt("connections", 1, 10_000) ?? 32,
            Streams = options.OptionalInt("streams", 1, MaxStreams) ?? 1,
            Rate = rate,
            Duration = ParseDuration(options, "duration") ?? TimeSpan.FromSeconds(10),
            Requests = requests,
            Warmup = ParseDuration(options, "warmup", allowZero: true) ?? TimeSpan.FromSeconds(2),
            Timeout = ParseDuration(options, "timeout") ?? TimeSpan.FromSeconds(10),
            Assets = symbols?.Length ?? options.OptionalInt("assets", 1, 10_000_000) ?? (seedAssets > 0 ? seedAssets : 1000),
            Symbols = symbols,
            Zipf = zipf,
            Batch = batch,
            SeedAssets = seedAssets,
            Features = features,
            Seed = options.OptionalInt("seed", 0, int.MaxValue) ?? 1,
            ApiKey = GridClient.ApiKey(options),
            TrustedCa = GridClient.TrustedCa(options),
        };
        if (settings.TrustedCa is not null && !settings.IsTls)
        {
            // Without TLS nothing would check it: refused, so that a forgotten "s" is not taken for a checked server.
            throw new UsageException($"--tls-ca applies to https:// and grpcs:// targets; '{target}' does not use TLS");
        }
        if (settings.Workers > 10_000)
        {
            throw new UsageException($"--connections {settings.Connections} x --streams {settings.Streams} is {settings.Workers} requests in flight, more than 10,000");
        }
        if (settings.Batch > settings.Assets)
        {
            throw new UsageException($"--batch {settings.Batch} is more than the {settings.Assets} assets to pick from");
        }
        return settings;
    }

    /// <summary>A duration such as <c>10s</c>, <c>500ms</c>, <c>2m</c> or a plain number of seconds.</summary>
    public static TimeSpan? ParseDuration(CliArguments options, string name, bool allowZero = false)
    {
        if (options.Optional(name) is not { } text)
        {
            return null;
        }
        string t = text.Trim();
        (string number, double scale) = t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (t[..^2], 0.001)
            : t.EndsWith('s') || t.EndsWith('S') ? (t[..^1], 1.0)
            : t.EndsWith('m') || t.EndsWith('M') ? (t[..^1], 60.0)
            : t.EndsWith('h') || t.EndsWith('H') ? (t[..^1], 3600.0)
            : (t, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value)
            || value < 0 || (value == 0 && !allowZero) || value * scale > 86_400)
        {
            throw new UsageException($"option '--{name}': '{text}' is not a duration such as 10s, 500ms or 2m{(allowZero ? " (0 for none)" : "")}");
        }
        return TimeSpan.FromSeconds(value * scale);
    }
}
