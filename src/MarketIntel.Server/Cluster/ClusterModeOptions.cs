using System.Net;
using Microsoft.Extensions.Options;
using Orleans.Hosting.Kubernetes;

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

    /// <summary>
    /// Run as a Kubernetes pod with Microsoft.Orleans.Hosting.Kubernetes: the silo takes its name from the pod, labels
    /// its pod with the service and cluster ids, declares dead the silos whose pods were deleted and deletes the pods of
    /// silos declared dead. Needs cluster mode and the pod's environment (<see cref="ClusterModeOptionsValidator.PodEnvironment"/>,
    /// passed by the Deployment from the downward API), whose service id must be the grid's fixed one: the package
    /// would otherwise replace it, and the grid's stored state is keyed by it.
    /// </summary>
    public bool Kubernetes { get; set; }
}

/// <summary>
/// Checks <see cref="ClusterModeOptions"/> at start for a silo listening on <paramref name="listenAddress"/>, naming every
/// setting at fault. With <see cref="ClusterModeOptions.Kubernetes"/> on, it also checks the pod's environment, read
/// through <paramref name="environment"/>, against the grid's fixed <paramref name="serviceId"/> and the cluster id.
/// </summary>
public sealed class ClusterModeOptionsValidator(string listenAddress, string serviceId, Func<string, string?> environment) : IValidateOptions<ClusterModeOptions>
{
    /// <summary>The environment variables Microsoft.Orleans.Hosting.Kubernetes reads, all of which a pod must set.</summary>
    public static readonly IReadOnlyList<string> PodEnvironment =
    [
        KubernetesHostingOptions.PodNameEnvironmentVariable,
        KubernetesHostingOptions.PodNamespaceEnvironmentVariable,
        KubernetesHostingOptions.PodIPEnvironmentVariable,
        KubernetesHostingOptions.ServiceIdEnvironmentVariable,
        KubernetesHostingOptions.ClusterIdEnvironmentVariable,
    ];

    public ValidateOptionsResult Validate(string? name, ClusterModeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = ClusterModeOptions.Section;
        if (!options.Enabled)
        {
            return options.Kubernetes
                ? ValidateOptionsResult.Fail($"{section}:Kubernetes needs cluster mode ({section}:Enabled=true): the pods' silos share membership in Redis")
                : ValidateOptionsResult.Success;
        }
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
        if (options.Kubernetes)
        {
            CheckPod(options, failures);
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    // The package reads these itself, with fall-backs that would hide a Deployment's mistake (the machine name, no
    // address) and ids that replace the configured ones: a silo that started under another service id would not see
    // the grid's stored state, and one under another cluster id would watch pods of another cluster.
    private void CheckPod(ClusterModeOptions options, List<string> failures)
    {
        const string section = ClusterModeOptions.Section;
        var missing = PodEnvironment.Where(variable => string.IsNullOrWhiteSpace(environment(variable))).ToList();
        if (missing.Count > 0)
        {
            failures.Add($"{section}:Kubernetes is on but the pod's environment variable(s) {string.Join(", ", missing)} are not set (the Deployment passes them from the downward API: deploy/kubernetes)");
        }
        string? podIp = environment(KubernetesHostingOptions.PodIPEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(podIp) && !IPAddress.TryParse(podIp, out _))
        {
            failures.Add($"{section}:Kubernetes: {KubernetesHostingOptions.PodIPEnvironmentVariable} '{podIp}' is not an IP address");
        }
        string? podService = environment(KubernetesHostingOptions.ServiceIdEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(podService) && !string.Equals(podService, serviceId, StringComparison.Ordinal))
        {
            failures.Add($"{section}:Kubernetes: the pod's service id {KubernetesHostingOptions.ServiceIdEnvironmentVariable} '{podService}' (label {KubernetesHostingOptions.ServiceIdLabel}) is not the grid's ServiceId '{serviceId}'");
        }
        string? podCluster = environment(KubernetesHostingOptions.ClusterIdEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(podCluster) && !string.Equals(podCluster, options.ClusterId, StringComparison.Ordinal))
        {
            failures.Add($"{section}:Kubernetes: the pod's cluster id {KubernetesHostingOptions.ClusterIdEnvironmentVariable} '{podCluster}' (label {KubernetesHostingOptions.ClusterIdLabel}) is not {section}:ClusterId '{options.ClusterId}'");
        }
    }
}
