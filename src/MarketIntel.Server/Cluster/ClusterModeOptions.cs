using System.Net;

namespace MarketIntel.Server.Cluster;

/// <summary>
/// Cluster mode (configuration section <c>Cluster</c>): silos on many machines form one Orleans cluster with
/// membership in Redis and durable state in PostgreSQL (section <c>Postgres</c>).
/// </summary>
public sealed class ClusterModeOptions
{
    public const string Section = "Cluster";

    /// <summary>Run as a member of a cluster instead of on embedded defaults.</summary>
    public bool Enabled { get; set; }

    /// <summary>Redis for membership and the asset cache, as a StackExchange.Redis configuration (<c>HOST:PORT[,password=...]</c>).</summary>
    public string Redis { get; set; } = "";

    /// <summary>The cluster's name: silos with the same name (and Redis) form one cluster.</summary>
    public string ClusterId { get; set; } = "marketintel";

    /// <summary>
    /// The address other silos reach this one at; by default the listen address. Set it when listening on
    /// 0.0.0.0 or behind NAT.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>The prefix of the cache's Redis keys (<c>{prefix}asset:{SYMBOL}</c>, docs/operations.md).</summary>
    public string RedisKeyPrefix { get; set; } = "marketintel:";

    /// <summary>How often the asset cache writes what changed to Redis.</summary>
    public TimeSpan CacheFlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Problems with the settings, each naming its key.</summary>
    public IEnumerable<string> Problems(string listenAddress)
    {
        if (!Enabled)
        {
            yield break;
        }
        if (string.IsNullOrWhiteSpace(Redis))
        {
            yield return $"{Section}:Redis must be set in cluster mode (--redis HOST:PORT)";
        }
        else
        {
            string? problem = null;
            try
            {
                StackExchange.Redis.ConfigurationOptions.Parse(Redis);
            }
            catch (ArgumentException e)
            {
                problem = $"{Section}:Redis '{Redact(Redis)}' is not a Redis configuration ({e.Message})";
            }
            if (problem is not null)
            {
                yield return problem;
            }
        }
        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            yield return $"{Section}:ClusterId must not be empty";
        }
        if (AdvertisedAddress is not null && !IPAddress.TryParse(AdvertisedAddress, out _))
        {
            yield return $"{Section}:AdvertisedAddress '{AdvertisedAddress}' is not an IP address";
        }
        if (AdvertisedAddress is null && IPAddress.TryParse(listenAddress, out IPAddress? listen) && (listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any)))
        {
            yield return $"{Section}:AdvertisedAddress must be set when listening on {listenAddress}: other silos need an address to reach this one";
        }
        if (CacheFlushInterval < TimeSpan.FromMilliseconds(1) || CacheFlushInterval > TimeSpan.FromMinutes(1))
        {
            yield return $"{Section}:CacheFlushInterval {CacheFlushInterval} must be between 00:00:00.001 and 00:01:00";
        }
    }

    /// <summary>A Redis configuration with any password hidden, for logs and messages.</summary>
    public static string Redact(string redis) =>
        System.Text.RegularExpressions.Regex.Replace(redis, "(password=)[^,]*", "$1***", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
}
