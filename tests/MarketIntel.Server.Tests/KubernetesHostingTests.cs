using MarketIntel.Server.Cluster;
using MarketIntel.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting.Kubernetes;

namespace MarketIntel.Server.Tests;

/// <summary>
/// <c>Cluster:Kubernetes</c>: refused without cluster mode, without the pod's environment, or with a pod whose ids are
/// not the grid's; with them, the silo is composed with Orleans' Kubernetes hosting. No cluster runs here: nothing starts
/// a silo, which would call the Kubernetes API.
/// </summary>
public sealed class KubernetesHostingTests
{
    private static readonly Dictionary<string, string?> ClusterSettings = new()
    {
        ["Cluster:Enabled"] = "true",
        ["Cluster:Redis"] = "localhost:6379",
        ["Cluster:ClusterId"] = "prod",
        ["Cluster:Kubernetes"] = "true",
        ["Postgres:ConnectionString"] = "Host=localhost;Username=marketintel;Database=marketintel",
    };

    private static readonly Dictionary<string, string> Pod = new()
    {
        [KubernetesHostingOptions.PodNameEnvironmentVariable] = "marketintel-silo-7d9f8-abcde",
        [KubernetesHostingOptions.PodNamespaceEnvironmentVariable] = "marketintel",
        [KubernetesHostingOptions.PodIPEnvironmentVariable] = "10.0.0.7",
        [KubernetesHostingOptions.ServiceIdEnvironmentVariable] = GridSiloHosting.ServiceId,
        [KubernetesHostingOptions.ClusterIdEnvironmentVariable] = "prod",
    };

    private static IConfiguration Settings(Dictionary<string, string?> settings) => new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

    private static string Refusal(Dictionary<string, string?> settings, Dictionary<string, string> pod) =>
        Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(Settings(settings), v => pod.GetValueOrDefault(v))).Message;

    [Fact]
    public void A_pod_with_the_grids_ids_is_accepted_and_one_without_its_environment_or_with_other_ids_is_refused_naming_them()
    {
        GridServer.ReadOptions(Settings(ClusterSettings), v => Pod.GetValueOrDefault(v));

        string missing = Refusal(ClusterSettings, new Dictionary<string, string>(Pod.Where(p => p.Key is not "POD_NAMESPACE" and not "ORLEANS_SERVICE_ID")));
        Assert.Contains("Cluster:Kubernetes is on but the pod's environment variable(s) POD_NAMESPACE, ORLEANS_SERVICE_ID are not set", missing, StringComparison.Ordinal);

        var other = new Dictionary<string, string>(Pod)
        {
            [KubernetesHostingOptions.ServiceIdEnvironmentVariable] = "marketintel-staging",
            [KubernetesHostingOptions.ClusterIdEnvironmentVariable] = "marketintel",
            [KubernetesHostingOptions.PodIPEnvironmentVariable] = "pod-ip",
        };
        string wrong = Refusal(ClusterSettings, other);
        Assert.Contains("the pod's service id ORLEANS_SERVICE_ID 'marketintel-staging' (label orleans/serviceId) is not the grid's ServiceId 'marketintel'", wrong, StringComparison.Ordinal);
        Assert.Contains("the pod's cluster id ORLEANS_CLUSTER_ID 'marketintel' (label orleans/clusterId) is not Cluster:ClusterId 'prod'", wrong, StringComparison.Ordinal);
        Assert.Contains("POD_IP 'pod-ip' is not an IP address", wrong, StringComparison.Ordinal);

        // The pods of one grid share membership in Redis: the setting alone, on embedded defaults, is refused.
        string embedded = Refusal(new Dictionary<string, string?> { ["Cluster:Kubernetes"] = "true" }, Pod);
        Assert.Contains("Cluster:Kubernetes needs cluster mode (Cluster:Enabled=true)", embedded, StringComparison.Ordinal);
    }

    private static bool HasKubernetesHosting(Dictionary<string, string?> settings)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddGridCluster();
        return builder.Services.Any(d => d.ServiceType == typeof(KubernetesClusterAgent) || d.ImplementationType == typeof(KubernetesClusterAgent));
    }

    [Fact]
    public void With_the_setting_on_the_silo_is_composed_with_Orleans_Kubernetes_hosting_and_without_it_is_not()
    {
        Assert.True(HasKubernetesHosting(ClusterSettings));
        Assert.False(HasKubernetesHosting(new Dictionary<string, string?>(ClusterSettings) { ["Cluster:Kubernetes"] = "false" }));
    }
}
