using System.Net;

namespace MarketIntel.Server.Cluster;

/// <summary>
/// Cluster mode (configuration section <c>Cluster</c>): silos on many machines form one Orleans cluster with
/// membership in Redis and durable state in PostgreSQL (section <c>Postgres</c>). The Redis settings, which the
/// membership and the asset cache share, are the cache's (<see cref="MarketIntel.Cache.Redis.Hosting.RedisCacheOptions"/>,
/// keys <c>Cluster:Redis</c>, <c>Cluster:RedisKeyPrefix</c>, <c>Cluster:CacheFlushInterval</c>).
/// </summary>
public sealed class ClusterModeOptions
{
    public const string Section = "Cluster";

    /// <summary>Run as a member of a cluster instead of on embedded defaults.</summary>
    public bool Enabled { get; set; }

    /// <summary>The cluster's name: silos with the same name (and Redis) form one cluster.</summary>
    public string ClusterId { get; set; } = "marketintel";

    /// <summary>
    /// The address other silos reach this one at; by default the listen address. Set it when listening on
    /// 0.0.0.0 or behind NAT.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Problems with the settings, each naming its key.</summary>
    public IEnumerable<string> Problems(string listenAddress)
    {
        if (!Enabled)
        {
            yield break;
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
    }
}
