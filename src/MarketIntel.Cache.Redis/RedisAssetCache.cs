using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Cache.Redis.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MarketIntel.Cache.Redis;

/// <summary>
/// The latest features and prediction of every asset active on this silo, in Redis hashes that any client can
/// read (<c>HGETALL marketintel:asset:SYMBOL</c>; fields in docs/operations.md). Grains hand their updates over
/// without waiting (and a silo that activates an asset from the archive publishes it again); a flush loop writes
/// what changed, the newest value per asset only, every
/// <see cref="RedisCacheOptions.CacheFlushInterval"/> in one pipelined batch. While Redis is down the updates
/// wait (one per asset, the newest) and are written when it is back: the grid never waits for Redis.
/// </summary>
internal sealed partial class RedisAssetCache(
    [FromKeyedServices(RedisAssetCache.ConnectionKey)] IConnectionMultiplexer redis, IOptions<RedisCacheOptions> configured, ILogger<RedisAssetCache> logger,
    IMeterFactory meters)
    : IAssetCache, IHostedService, IDisposable
{
    /// <summary>The service key of the cache's own Redis connection.</summary>
    public const string ConnectionKey = "marketintel-asset-cache";

    private readonly CacheMetrics _metrics = new(meters);

    private readonly ConcurrentDictionary<string, Entry> _pending = new(StringComparer.Ordinal);
    private readonly RedisCacheOptions _options = configured.Value;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private bool _failing;

    public void Publish(FeatureSnapshot? features, PredictionResult? prediction)
    {
        string? asset = features?.Asset ?? prediction?.Asset;
        if (asset is null)
        {
            return;
        }
        _pending.AddOrUpdate(asset,
            static (_, update) => update,
            static (_, old, update) => new Entry(update.Features ?? old.Features, update.Prediction ?? old.Prediction),
            new Entry(features, prediction));
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(FlushLoop, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await FlushOnce(); // what the last bars changed, best effort
    }

    private async Task FlushLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_failing ? TimeSpan.FromSeconds(1) : _options.CacheFlushInterval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await FlushOnce();
        }
    }

    private async Task FlushOnce()
    {
        _metrics.Pending(_pending.Count);
        if (_pending.IsEmpty)
        {
            return;
        }
        // A snapshot: grains keep publishing meanwhile. An entry is removed after its write only if it is still the
        // one written, so an update that arrived during the write is written next time instead of being lost.
        var batch = _pending.ToArray();
        try
        {
            IDatabase db = redis.GetDatabase();
            IBatch writes = db.CreateBatch();
            var tasks = new List<Task>(batch.Length);
            foreach (var (asset, entry) in batch)
            {
                tasks.Add(writes.HashSetAsync(_options.RedisKeyPrefix + "asset:" + asset, Fields(entry)));
            }
            writes.Execute();
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
            foreach (var written in batch)
            {
                _pending.TryRemove(written);
            }
            _metrics.Written(batch.Length);
            if (_failing)
            {
                LogRecovered(batch.Length);
            }
            Volatile.Write(ref _failing, false);
        }
        catch (Exception e)
        {
            // Whatever failed (Redis down, a timeout, anything else), the entries stay pending and the loop goes on.
            _metrics.Failed();
            if (!_failing)
            {
                LogFailing(e);
            }
            Volatile.Write(ref _failing, true);
        }
    }

    private static HashEntry[] Fields(Entry entry)
    {
        var fields = new List<HashEntry>(9) { new("updated_at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) };
        if (entry.Features is { } features)
        {
            fields.Add(new("features_as_of", features.AsOf));
            fields.Add(new("features", FeaturesJson(features)));
        }
        if (entry.Prediction is { } prediction)
        {
            fields.Add(new("prediction", prediction.Values.Count > 0 ? prediction.Values[0].ToString("R", CultureInfo.InvariantCulture) : ""));
            fields.Add(new("outputs", JsonSerializer.Serialize(prediction.Values)));
            fields.Add(new("model", prediction.Model.Name));
            fields.Add(new("version", prediction.Model.Version));
            fields.Add(new("prediction_as_of", prediction.AsOf));
        }
        return [.. fields];
    }

    private static string FeaturesJson(FeatureSnapshot features)
    {
        var buffer = new ArrayBufferWriter<byte>(64 * features.Names.Count);
        using (var json = new Utf8JsonWriter(buffer))
        {
            FeatureJson.Write(json, features);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public void Dispose() => _stop.Dispose();

    private sealed record Entry(FeatureSnapshot? Features, PredictionResult? Prediction);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing the asset cache to Redis failed: it keeps the latest value per asset and writes it when Redis is back")]
    private partial void LogFailing(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis is back: the asset cache wrote {Count} pending assets")]
    private partial void LogRecovered(int count);
}

/// <summary>The asset cache's totals, on its meter.</summary>
internal sealed class CacheMetrics
{
    /// <summary>The name of the cache's meter.</summary>
    public const string MeterName = "MarketIntel.Cache";

    private long _written;
    private long _failed;
    private long _pending;

    public CacheMetrics(IMeterFactory meters)
    {
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableCounter("marketintel_cache_writes_total", () => Interlocked.Read(ref _written), unit: null,
            "Asset entries written to the Redis cache");
        meter.CreateObservableCounter("marketintel_cache_write_failures_total", () => Interlocked.Read(ref _failed), unit: null,
            "Flushes of the Redis cache that failed (Redis unreachable); their entries are written later");
        meter.CreateObservableGauge("marketintel_cache_pending_assets", () => Interlocked.Read(ref _pending), unit: null,
            "Assets whose latest values wait to be written to Redis");
    }

    /// <summary>Entries a flush wrote.</summary>
    public void Written(int entries) => Interlocked.Add(ref _written, entries);

    /// <summary>A flush that failed.</summary>
    public void Failed() => Interlocked.Increment(ref _failed);

    /// <summary>The assets waiting as a flush starts.</summary>
    public void Pending(int assets) => Interlocked.Exchange(ref _pending, assets);
}
