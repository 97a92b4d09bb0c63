using System.Net;
using Microsoft.Extensions.Options;

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
}

/// <summary>Checks <see cref="ClusterModeOptions"/> at start for a silo listening on <paramref name="listenAddress"/>, naming every setting at fault.</summary>
public sealed class ClusterModeOptionsValidator(string listenAddress) : IValidateOptions<ClusterModeOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterModeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        const string section = ClusterModeOptions.Section;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add($"{section}:ClusterId must not be empty");
        }
        if (options.AdvertisedAddress is not null && !IPAddress.TryParse(options.AdvertisedAddress, out _))
        {
            failures.Add($"{section}:AdvertisedAddress '{options.AdvertisedAddress}' is not an IP address");
        }
        if (options.AdvertisedAddress is null && IPAddress.TryParse(listenAddress, out IPAddress? listen) && (listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any)))
        {
            failures.Add($"{section}:AdvertisedAddress must be set when listening on {listenAddress}: other silos need an address to reach this one");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
