using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.CommandLine;
using MarketIntel.LoadTest;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The <c>loadtest</c> command's options as the load generator's settings. Here rather than in the load generator:
/// symbols are checked with the grid's own rule (<see cref="AssetSymbol"/>, in Abstractions), which the load
/// generator, referencing only the API's contracts, does not see.
/// </summary>
internal static class LoadTestOptions
{
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
                if (AssetSymbol.Problem(symbol) is { } problem)
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
            Streams = options.OptionalInt("streams", 1, LoadTestSettings.MaxStreams) ?? 1,
            Rate = rate,
            Duration = options.OptionalDuration("duration") ?? TimeSpan.FromSeconds(10),
            Requests = requests,
            Warmup = options.OptionalDuration("warmup", allowZero: true) ?? TimeSpan.FromSeconds(2),
            Timeout = options.OptionalDuration("timeout") ?? TimeSpan.FromSeconds(10),
            Assets = symbols?.Length ?? options.OptionalInt("assets", 1, 10_000_000) ?? (seedAssets > 0 ? seedAssets : 1000),
            Symbols = symbols,
            Zipf = zipf,
            Batch = batch,
            SeedAssets = seedAssets,
            Features = features,
            Seed = options.OptionalInt("seed", 0, int.MaxValue) ?? 1,
            ApiKey = GridChannel.ApiKey(options),
            TrustedCa = GridChannel.TrustedCa(options),
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
}
