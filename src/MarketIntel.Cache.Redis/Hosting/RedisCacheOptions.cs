namespace MarketIntel.Cache.Redis.Hosting;

/// <summary>
/// The asset cache's Redis (configuration section <c>Cluster</c>, beside the other cluster-mode settings: keys
/// <c>Cluster:Redis</c>, <c>Cluster:RedisKeyPrefix</c>, <c>Cluster:CacheFlushInterval</c>).
/// </summary>
public sealed class RedisCacheOptions
{
    /// <summary>The configuration section these settings are read from.</summary>
    public const string Section = "Cluster";

    /// <summary>The Redis server, as a StackExchange.Redis configuration (<c>HOST:PORT[,password=...]</c>).</summary>
    public string Redis { get; set; } = "";

    /// <summary>The prefix of the cache's Redis keys (<c>{prefix}asset:{SYMBOL}</c>, docs/operations.md).</summary>
    public string RedisKeyPrefix { get; set; } = "marketintel:";

    /// <summary>How often the asset cache writes what changed to Redis.</summary>
    public TimeSpan CacheFlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A Redis configuration with any password hidden, for logs and messages.</summary>
    public static string Redact(string redis) =>
        System.Text.RegularExpressions.Regex.Replace(redis, "(password=)[^,]*", "$1***", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
}
