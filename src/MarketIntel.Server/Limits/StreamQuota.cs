using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Limits;

/// <summary>
/// Counts the StreamPredictions calls open on this silo, in all and per API key, and refuses one over
/// <see cref="LimitsOptions.MaxPredictionStreams"/> or <see cref="LimitsOptions.MaxPredictionStreamsPerKey"/>.
/// </summary>
internal sealed class StreamQuota(IOptions<LimitsOptions> options)
{
    private readonly ConcurrentDictionary<string, int> _perKey = new(StringComparer.Ordinal);
    private int _open;

    /// <summary>How many streams are open now.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Takes a place for a stream of <paramref name="key"/> (null without keys); dispose it when the stream ends.</summary>
    public IDisposable Enter(Security.Caller? key)
    {
        LimitsOptions limits = options.Value;
        if (Interlocked.Increment(ref _open) > limits.MaxPredictionStreams)
        {
            Interlocked.Decrement(ref _open);
            throw Over.Limit("open prediction streams on this silo", limits.MaxPredictionStreams + 1L, limits.MaxPredictionStreams, nameof(LimitsOptions.MaxPredictionStreams));
        }
        if (key is null)
        {
            return new Place(this, null);
        }
        int mine = _perKey.AddOrUpdate(key.Name, 1, static (_, n) => n + 1);
        if (mine > limits.MaxPredictionStreamsPerKey)
        {
            new Place(this, key.Name).Dispose();
            throw Over.Limit($"open prediction streams of key '{key.Name}'", mine, limits.MaxPredictionStreamsPerKey, nameof(LimitsOptions.MaxPredictionStreamsPerKey));
        }
        return new Place(this, key.Name);
    }

    private sealed class Place(StreamQuota quota, string? key) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            Interlocked.Decrement(ref quota._open);
            if (key is not null)
            {
                quota._perKey.AddOrUpdate(key, 0, static (_, n) => n - 1);
                quota._perKey.TryRemove(new KeyValuePair<string, int>(key, 0));
            }
        }
    }
}
