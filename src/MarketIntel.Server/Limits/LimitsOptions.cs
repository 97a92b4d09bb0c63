using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Limits;

/// <summary>
/// What one client may cost the silo (configuration section <c>Limits</c>). A request over a limit is refused with
/// RESOURCE_EXHAUSTED (HTTP 429, or 413 for a body) and a message naming the limit and its setting; other clients
/// are served on. Limits inside the grid itself (active assets, pushed vector length, bar times) are under
/// <c>Grid</c>; model structure limits under <c>Models</c>.
/// </summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

    /// <summary>The most assets one PredictBatch call may name.</summary>
    public int MaxAssetsPerBatch { get; set; } = 10_000;

    /// <summary>The most assets one StreamPredictions call may watch.</summary>
    public int MaxAssetsPerStream { get; set; } = 10_000;

    /// <summary>The most bars one IngestBars message may carry (the CLI sends 500).</summary>
    public int MaxBarsPerMessage { get; set; } = 10_000;

    /// <summary>The most bars one IngestBars call may carry in all (the CLI sends 5,000 per call).</summary>
    public long MaxBarsPerStream { get; set; } = 10_000_000;

    /// <summary>
    /// The most StreamPredictions calls open at once on this silo, from all clients together. With
    /// <see cref="StreamBufferPredictions"/> this bounds what slow readers can make the silo hold: about
    /// 2,000 x 4,096 predictions of some 150 bytes, 1.2 GB, in the worst case.
    /// </summary>
    public int MaxPredictionStreams { get; set; } = 2_000;

    /// <summary>How many predictions a StreamPredictions call holds for a client that reads slower than they come; older ones are dropped.</summary>
    public int StreamBufferPredictions { get; set; } = 4_096;

    /// <summary>A StreamPredictions client that takes nothing for this long while its buffer overflows is cut off (RESOURCE_EXHAUSTED).</summary>
    public TimeSpan StreamStallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The most StreamPredictions calls one API key may hold open at once on this silo (with keys on).</summary>
    public int MaxPredictionStreamsPerKey { get; set; } = 1_000;

    /// <summary>The largest HTTP request body, chunked or not (PUT /features).</summary>
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;

    /// <summary>The largest gRPC message received: a RegisterModel call carries the whole model.</summary>
    public int MaxGrpcMessageBytes { get; set; } = 64 << 20;

    /// <summary>The most calls in flight on one HTTP/2 connection.</summary>
    public int MaxStreamsPerConnection { get; set; } = 100;

    /// <summary>The most connections open at once on each of the HTTP and gRPC ports; more wait in the accept queue.</summary>
    public long MaxConnections { get; set; } = 10_000;

    /// <summary>How long a client may take to send a request's headers (slowloris clients are cut off after it).</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an idle connection stays open between requests.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(130);

    /// <summary>Requests per second each API key may make (a token bucket; unset: no limit). Only with keys on.</summary>
    public int? RequestsPerSecondPerKey { get; set; }
}

/// <summary>Checks <see cref="LimitsOptions"/> at start, naming every setting at fault.</summary>
public sealed class LimitsOptionsValidator : IValidateOptions<LimitsOptions>
{
    public ValidateOptionsResult Validate(string? name, LimitsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = LimitsOptions.Section;
        var failures = new List<string>();
        foreach (var (setting, value, max) in new (string, long, long)[]
        {
            (nameof(options.MaxAssetsPerBatch), options.MaxAssetsPerBatch, 10_000_000),
            (nameof(options.MaxAssetsPerStream), options.MaxAssetsPerStream, 10_000_000),
            (nameof(options.MaxBarsPerMessage), options.MaxBarsPerMessage, 10_000_000),
            (nameof(options.MaxBarsPerStream), options.MaxBarsPerStream, long.MaxValue),
            (nameof(options.MaxPredictionStreams), options.MaxPredictionStreams, 1_000_000),
            (nameof(options.MaxPredictionStreamsPerKey), options.MaxPredictionStreamsPerKey, 1_000_000),
            (nameof(options.StreamBufferPredictions), options.StreamBufferPredictions, 10_000_000),
            (nameof(options.MaxRequestBodyBytes), options.MaxRequestBodyBytes, 1L << 30),
            (nameof(options.MaxGrpcMessageBytes), options.MaxGrpcMessageBytes, 1L << 30),
            (nameof(options.MaxStreamsPerConnection), options.MaxStreamsPerConnection, 10_000),
            (nameof(options.MaxConnections), options.MaxConnections, 10_000_000),
            (nameof(options.RequestsPerSecondPerKey), options.RequestsPerSecondPerKey ?? 1, 100_000_000),
        })
        {
            if (value < 1 || value > max)
            {
                failures.Add($"{section}:{setting} {value} must be between 1 and {max}");
            }
        }
        foreach (var (setting, value) in new[] { (nameof(options.RequestHeadersTimeout), options.RequestHeadersTimeout), (nameof(options.KeepAliveTimeout), options.KeepAliveTimeout), (nameof(options.StreamStallTimeout), options.StreamStallTimeout) })
        {
            if (value < TimeSpan.FromMilliseconds(100) || value > TimeSpan.FromHours(1))
            {
                failures.Add($"{section}:{setting} {value} must be between 00:00:00.1 and 01:00:00");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Refusals of requests over a limit, in the words every API uses.</summary>
internal static class Over
{
    public static MarketIntel.Abstractions.GridException Limit(string what, long count, long limit, string setting) =>
        new(MarketIntel.Abstractions.GridErrorKind.ResourceExhausted, $"{what}: {count} is over the limit of {limit} (setting {LimitsOptions.Section}:{setting})");
}
