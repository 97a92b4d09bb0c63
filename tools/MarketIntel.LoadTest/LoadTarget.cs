using MarketIntel.CommandLine;

namespace MarketIntel.LoadTest;

/// <summary>How one request ended.</summary>
/// <param name="Responded">The target answered (any status): its latency is recorded.</param>
/// <param name="Error">Null on success; otherwise what went wrong, as a short kind such as <c>HTTP 404</c> or <c>timeout</c>.</param>
/// <param name="Predictions">Predictions the answer carried (one for Predict, up to the batch size for PredictBatch).</param>
public readonly record struct Outcome(bool Responded, string? Error, int Predictions)
{
    public static Outcome Ok(int predictions) => new(true, null, predictions);

    /// <summary>An answer that says the request failed (HTTP 4xx/5xx, a gRPC status).</summary>
    public static Outcome Refused(string error) => new(true, error, 0);

    /// <summary>No answer: the connection failed, closed or timed out.</summary>
    public static Outcome Failed(string error) => new(false, error, 0);
}

/// <summary>A worker's connection to the target (or its stream on a shared one), with one request in flight.</summary>
public interface ILoadConnection : IAsyncDisposable
{
    /// <summary>Sends one request for assets picked by <paramref name="picker"/> and waits for its answer.</summary>
    ValueTask<Outcome> SendAsync(AssetPicker picker, Random random, CancellationToken cancellationToken);
}

/// <summary>A system under load: makes connections, and can push the feature vectors a test needs first.</summary>
public interface ILoadTarget : IDisposable
{
    /// <summary>The target as the report shows it, with its protocol.</summary>
    string Description { get; }

    /// <summary>The connection of worker <paramref name="worker"/> (0 .. connections x streams - 1); -1 for a connection of its own.</summary>
    ILoadConnection Connect(int worker);

    /// <summary>Pushes one vector per asset through the grid's public API.</summary>
    Task SeedAsync(int assets, Func<int, float[]> vector, CancellationToken cancellationToken);
}

public static class LoadTargets
{
    public static ILoadTarget Create(LoadTestSettings settings)
    {
        string target = settings.Target;
        if (target.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("grpcs://", StringComparison.OrdinalIgnoreCase))
        {
            return new GrpcLoadTarget(target, settings);
        }
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            if (settings.Batch > 0)
            {
                throw new UsageException("--batch applies to gRPC targets (PredictBatch); an HTTP target sends one request per URL");
            }
            if (settings.Streams > 1)
            {
                throw new UsageException("--streams applies to gRPC targets (HTTP/2); HTTP/1.1 carries one request at a time per connection");
            }
            return new HttpLoadTarget(target, settings);
        }
        throw new UsageException($"--target '{target}' must be grpc[s]://HOST:PORT or an http[s]://HOST:PORT/... URL (a template with {{asset}} where the symbol goes, or a fixed URL)");
    }
}
