using System.Collections;
using System.Reflection;
using MarketIntel.Cache.Redis.Hosting;
using MarketIntel.Grains;
using MarketIntel.Inference;
using MarketIntel.Server.Cluster;
using MarketIntel.Server.Hosting;
using MarketIntel.Server.Limits;
using MarketIntel.Server.Security;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Tests;
using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
using Orleans.Hosting.Kubernetes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MarketIntel.Ops.Tests;

/// <summary>
/// deploy/compose.yaml, deploy/kubernetes/*.yaml and deploy/Dockerfile, which no Docker or Kubernetes runs here: they
/// parse, they name the image built from the Dockerfile and the ports and paths the server serves, and every setting
/// they give the silos is one the server's options classes read, with values the server's own validators accept.
/// </summary>
public sealed class DeploymentTests
{
    private static string Deploy(params string[] parts) => Path.Combine([RepoPaths.Root, "deploy", .. parts]);

    private static List<YamlMappingNode> Documents(string file)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(file))
        {
            // Merge keys (<<: *silo), as Docker Compose reads them.
            yaml.Load(new MergingParser(new Parser(reader)));
        }
        return [.. yaml.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }

    private static YamlNode At(YamlNode node, params string[] path) =>
        path.Aggregate(node, (n, key) => ((YamlMappingNode)n).Children[new YamlScalarNode(key)]);

    private static string Text(YamlNode node, params string[] path) => ((YamlScalarNode)At(node, path)).Value!;

    private static bool Has(YamlNode node, string key) => ((YamlMappingNode)node).Children.ContainsKey(new YamlScalarNode(key));

    private static IEnumerable<(string Key, string Value)> Pairs(YamlNode mapping) =>
        ((YamlMappingNode)mapping).Children.Select(p => (((YamlScalarNode)p.Key).Value!, ((YamlScalarNode)p.Value).Value!));

    private static YamlMappingNode Compose => Documents(Deploy("compose.yaml")).Single();

    private static YamlMappingNode Service(string name) => (YamlMappingNode)At(Compose, "services", name);

    // Every compose silo, and those that publish the API to clients (the worker publishes nothing).
    private static readonly string[] Silos = ["silo-1", "silo-2", "worker"];
    private static readonly string[] Serving = ["silo-1", "silo-2"];

    private static List<YamlMappingNode> Kubernetes =>
        [.. Directory.GetFiles(Deploy("kubernetes"), "*.yaml").Order(StringComparer.Ordinal).SelectMany(Documents)];

    private static YamlMappingNode Kind(string kind) => Kubernetes.Single(d => Text(d, "kind") == kind);

    // The serving silos' Deployment and the workers'.
    private static readonly string[] Deployments = ["marketintel-silo", "marketintel-worker"];

    private static YamlMappingNode Deployment(string name) => Kubernetes.Single(d => Text(d, "kind") == "Deployment" && Text(d, "metadata", "name") == name);

    private static YamlMappingNode Container(string deployment) =>
        (YamlMappingNode)((YamlSequenceNode)At(Deployment(deployment), "spec", "template", "spec", "containers")).Single();

    // A container's env entries with a literal value (not those Kubernetes fills in, such as the pod's address).
    private static IEnumerable<(string Key, string Value)> LiteralEnv(YamlMappingNode container) =>
        ((YamlSequenceNode)At(container, "env")).Where(e => Has(e, "value")).Select(e => (Text(e, "name"), Text(e, "value")));

    // Each configuration section the server binds, with the options classes bound from it (GridConfiguration,
    // GridClusterHosting for Orleans' membership timings).
    private static readonly Dictionary<string, Type[]> Sections = new(StringComparer.OrdinalIgnoreCase)
    {
        [ServerOptions.Section] = [typeof(ServerOptions)],
        [ClusterModeOptions.Section] = [typeof(ClusterModeOptions), typeof(RedisCacheOptions)],
        [PostgresOptions.Section] = [typeof(PostgresOptions)],
        [AuthOptions.Section] = [typeof(AuthOptions)],
        [LimitsOptions.Section] = [typeof(LimitsOptions)],
        [TlsOptions.Section] = [typeof(TlsOptions)],
        [GridConfiguration.ModelsSection] = [typeof(ModelLimits), typeof(OnnxMemoryOptions)],
        [GridOptions.Section] = [typeof(GridOptions)],
        ["Orleans:ClusterMembership"] = [typeof(ClusterMembershipOptions)],
    };

    /// <summary>Why a configuration key (environment form, <c>A__B</c>) is not one the server reads, or null when it is.</summary>
    internal static string? Unread(string key)
    {
        string[] parts = key.Split("__");
        foreach (var (section, types) in Sections.OrderByDescending(s => s.Key.Length))
        {
            string[] sectionParts = section.Split(':');
            if (parts.Length <= sectionParts.Length || !parts.Take(sectionParts.Length).SequenceEqual(sectionParts, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }
            string[] rest = parts[sectionParts.Length..];
            return types.Any(t => Reads(t, rest)) ? null : $"{key}: no setting {string.Join(':', rest)} in {string.Join(" or ", types.Select(t => t.Name))} (section {section})";
        }
        return $"{key}: no options class reads section '{parts[0]}'";
    }

    // Whether binding type reads the path: a public property (case-insensitive, as the binder matches), an index into a
    // list, or a property of a nested options object.
    private static bool Reads(Type type, string[] path)
    {
        PropertyInfo? property = type.GetProperty(path[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null)
        {
            return false;
        }
        if (path.Length == 1)
        {
            return property.CanWrite || typeof(IEnumerable).IsAssignableFrom(property.PropertyType) && property.PropertyType != typeof(string);
        }
        if (property.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(property.PropertyType))
        {
            return path.Length == 2 && int.TryParse(path[1], out _);
        }
        return property.PropertyType.IsClass && property.PropertyType != typeof(string) && Reads(property.PropertyType, path[1..]);
    }

    // The pod's address Kubernetes fills in, as a stand-in.
    private const string PodIp = "10.0.0.7";

    // The environment variables a Deployment's container gets from the downward API, resolved as Kubernetes would for
    // one of its pods: the pod's name, namespace and address stand-ins, its labels as the manifest writes them.
    private static Dictionary<string, string> DownwardEnv(string deployment)
    {
        var labels = Pairs(At(Deployment(deployment), "spec", "template", "metadata", "labels")).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        string Resolve(string field) => field switch
        {
            "metadata.name" => $"{deployment}-7d9f8-abcde",
            "metadata.namespace" => "marketintel",
            "status.podIP" => PodIp,
            _ when field.StartsWith("metadata.labels['", StringComparison.Ordinal) && field.EndsWith("']", StringComparison.Ordinal) =>
                labels.TryGetValue(field["metadata.labels['".Length..^2], out string? value) ? value : throw new InvalidOperationException($"{deployment}: {field} names no label of the pod"),
            _ => throw new InvalidOperationException($"{deployment}: downward API field {field} is not resolved by this test"),
        };
        return ((YamlSequenceNode)At(Container(deployment), "env")).Where(e => Has(e, "valueFrom"))
            .ToDictionary(e => Text(e, "name"), e => Resolve(Text(e, "valueFrom", "fieldRef", "fieldPath")), StringComparer.Ordinal);
    }

    // The silos' settings as the server would read them: the image's model path as the repository's file, and the
    // address Kubernetes or the compose entrypoint fills in at start as a stand-in; the process environment is
    // podEnvironment (the downward API's variables for a Kubernetes pod, none for compose).
    private static void AcceptedByTheServer(IEnumerable<(string Key, string Value)> settings, string where, IReadOnlyDictionary<string, string>? podEnvironment = null)
    {
        string model = Path.Combine(RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData", "direction-d3-n60.json");
        var configuration = settings
            .Select(s => new KeyValuePair<string, string?>(s.Key.Replace("__", ":", StringComparison.Ordinal), s.Value.Replace("/app/models/direction-d3-n60.json", model, StringComparison.Ordinal)))
            .Append(new("Cluster:AdvertisedAddress", PodIp))
            .GroupBy(p => p.Key, StringComparer.OrdinalIgnoreCase).Select(g => g.Last());
        try
        {
            GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(configuration).Build(), variable => podEnvironment?.GetValueOrDefault(variable));
        }
        catch (ServerConfigurationException e)
        {
            Assert.Fail($"{where}: the server refuses these settings: {e.Message}");
        }
    }

    [Fact]
    public void The_key_check_tells_a_setting_the_server_reads_from_a_misspelt_or_unknown_one()
    {
        Assert.Null(Unread("MarketIntel__HttpPort"));
        Assert.Null(Unread("marketintel__models__0"));
        Assert.Null(Unread("Cluster__Redis"));
        Assert.Null(Unread("Auth__Jwt__Authority"));
        Assert.Null(Unread("Orleans__ClusterMembership__ProbeTimeout"));
        Assert.Contains("no setting HttpPrt", Unread("MarketIntel__HttpPrt"), StringComparison.Ordinal);
        Assert.Contains("no options class reads section 'Clustr'", Unread("Clustr__Redis"), StringComparison.Ordinal);
        Assert.NotNull(Unread("MarketIntel__Models__first"));
    }

    [Fact]
    public void Compose_starts_the_servers_the_migration_two_serving_silos_a_worker_Prometheus_and_Grafana_from_images_it_names_or_builds()
    {
        var services = ((YamlMappingNode)At(Compose, "services")).Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();
        Assert.Equal(["postgres", "redis", "migrate", "keys", "silo-1", "silo-2", "worker", "prometheus", "grafana"], services);
        foreach (string name in services)
        {
            Assert.Matches("^[a-z0-9./-]+:[A-Za-z0-9._-]+$", Text(Service(name), "image"));
        }
        // The grid's image is built from deploy/Dockerfile; the migration runs to completion before any silo starts.
        foreach (string silo in Silos)
        {
            Assert.Equal("marketintel:local", Text(Service(silo), "image"));
            Assert.Equal("deploy/Dockerfile", Text(Service(silo), "build", "dockerfile"));
            Assert.Equal("service_completed_successfully", Text(Service(silo), "depends_on", "migrate", "condition"));
        }
        Assert.True(File.Exists(Path.Combine(Deploy(), Text(Service("migrate"), "build", "context"), Text(Service("migrate"), "build", "dockerfile"))));
        Assert.Equal(["db", "migrate", "--postgres"], ((YamlSequenceNode)At(Service("migrate"), "command")).Take(3).Select(n => ((YamlScalarNode)n).Value));
        // Kubernetes runs the same image, the migration as a Job.
        foreach (string deployment in Deployments)
        {
            Assert.Equal("marketintel:local", Text(Container(deployment), "image"));
        }
        Assert.Equal("marketintel:local", Text(((YamlSequenceNode)At(Kind("Job"), "spec", "template", "spec", "containers"))[0], "image"));
        Assert.Equal(["db", "migrate", "--postgres"], ((YamlSequenceNode)At(((YamlSequenceNode)At(Kind("Job"), "spec", "template", "spec", "containers"))[0], "args")).Take(3).Select(n => ((YamlScalarNode)n).Value));
    }

    [Fact]
    public void Every_setting_the_deployments_give_the_silos_is_one_the_server_reads_and_accepts()
    {
        foreach (string silo in Silos)
        {
            var settings = Pairs(At(Service(silo), "environment")).ToList();
            Assert.All(settings, s => Assert.Null(Unread(s.Key)));
            AcceptedByTheServer(settings, $"compose {silo}");
        }
        var kubernetes = Pairs(At(Kind("ConfigMap"), "data")).Concat(Pairs(At(Kind("Secret"), "stringData"))).ToList();
        foreach (string deployment in Deployments)
        {
            var container = Container(deployment);
            // Orleans' Kubernetes hosting reads the pod's variables itself; every other name is a server setting.
            var env = ((YamlSequenceNode)At(container, "env")).Select(e => Text(e, "name")).Except(ClusterModeOptionsValidator.PodEnvironment).ToList();
            Assert.All(kubernetes.Select(s => s.Key).Concat(env), key => Assert.Null(Unread(key)));
            AcceptedByTheServer(kubernetes.Concat(LiteralEnv(container)), $"kubernetes {deployment} with the ConfigMap and Secret", DownwardEnv(deployment));
            // The pod's address is what the silo advertises to the others.
            Assert.Equal("status.podIP", Text(((YamlSequenceNode)At(container, "env")).Single(e => Text(e, "name") == "Cluster__AdvertisedAddress"), "valueFrom", "fieldRef", "fieldPath"));
        }
    }

    [Fact]
    public void Both_Deployments_run_Orleans_Kubernetes_hosting_with_the_grids_ids_from_their_own_pod_labels()
    {
        var config = Pairs(At(Kind("ConfigMap"), "data")).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        string clusterId = config.GetValueOrDefault("Cluster__ClusterId") ?? new ClusterModeOptions().ClusterId;
        foreach (string deployment in Deployments)
        {
            // The setting the server reads, on in the Deployment itself.
            Assert.Contains(($"{ClusterModeOptions.Section}__{nameof(ClusterModeOptions.Kubernetes)}", "true"), LiteralEnv(Container(deployment)));
            // Every variable the package reads comes from the downward API, the ids from the pod's labels, which are the grid's.
            var pod = DownwardEnv(deployment);
            Assert.Subset(pod.Keys.ToHashSet(), ClusterModeOptionsValidator.PodEnvironment.ToHashSet());
            Assert.Equal(GridSiloHosting.ServiceId, pod[KubernetesHostingOptions.ServiceIdEnvironmentVariable]);
            Assert.Equal(clusterId, pod[KubernetesHostingOptions.ClusterIdEnvironmentVariable]);
            var labels = Pairs(At(Deployment(deployment), "spec", "template", "metadata", "labels")).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            Assert.Equal(GridSiloHosting.ServiceId, labels[KubernetesHostingOptions.ServiceIdLabel]);
            Assert.Equal(clusterId, labels[KubernetesHostingOptions.ClusterIdLabel]);
            Assert.Equal(PodIp, pod[KubernetesHostingOptions.PodIPEnvironmentVariable]);
            // The pods run as the service account the Role is bound to.
            Assert.Equal(Text(Kind("ServiceAccount"), "metadata", "name"), Text(Deployment(deployment), "spec", "template", "spec", "serviceAccountName"));
        }
        // The Role lets that account do, in the namespace, what the package does with pods: read and label its own, list
        // and watch the cluster's, delete those of dead silos.
        var rule = (YamlMappingNode)((YamlSequenceNode)At(Kind("Role"), "rules")).Single();
        Assert.Equal([""], ((YamlSequenceNode)At(rule, "apiGroups")).Select(n => ((YamlScalarNode)n).Value));
        Assert.Equal(["pods"], ((YamlSequenceNode)At(rule, "resources")).Select(n => ((YamlScalarNode)n).Value));
        Assert.Equal(["delete", "get", "list", "patch", "watch"], ((YamlSequenceNode)At(rule, "verbs")).Select(n => ((YamlScalarNode)n).Value!).Order(StringComparer.Ordinal));
        var binding = Kind("RoleBinding");
        Assert.Equal(("Role", Text(Kind("Role"), "metadata", "name")), (Text(binding, "roleRef", "kind"), Text(binding, "roleRef", "name")));
        var subject = (YamlMappingNode)((YamlSequenceNode)At(binding, "subjects")).Single();
        Assert.Equal(("ServiceAccount", Text(Kind("ServiceAccount"), "metadata", "name")), (Text(subject, "kind"), Text(subject, "name")));
    }

    [Fact]
    public void Ports_probes_and_scrape_targets_are_the_ones_the_silos_serve()
    {
        var settings = Pairs(At(Service("silo-1"), "environment")).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        string http = settings["MarketIntel__HttpPort"], grpc = settings["MarketIntel__GrpcPort"], silo = settings["MarketIntel__SiloPort"];
        foreach (string name in Serving)
        {
            var published = ((YamlSequenceNode)At(Service(name), "ports")).Select(p => ((YamlScalarNode)p).Value!.Split(':')[1]).Order(StringComparer.Ordinal);
            Assert.Equal([http, grpc], published);
        }
        // Prometheus scrapes each compose silo on its HTTP port.
        var prometheus = Documents(Deploy("prometheus", "prometheus.yml")).Single();
        var job = (YamlMappingNode)((YamlSequenceNode)At(prometheus, "scrape_configs")).Single();
        var targets = ((YamlSequenceNode)At((YamlMappingNode)((YamlSequenceNode)At(job, "static_configs"))[0], "targets")).Select(t => ((YamlScalarNode)t).Value);
        Assert.Equal(Silos.Select(s => $"{s}:{http}"), targets);
        Assert.Equal("/metrics", Text(job, "metrics_path"));

        // Kubernetes: the ConfigMap's ports are the container's, the probes ask the HTTP port for /healthz and /readyz,
        // and the Service and the PodDisruptionBudget select the Deployment's pods.
        var config = Pairs(At(Kind("ConfigMap"), "data")).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        foreach (string name in Deployments)
        {
            PortsAndProbes(config, Deployment(name));
        }
        var podLabels = Pairs(At(Deployment("marketintel-silo"), "spec", "template", "metadata", "labels")).ToHashSet();
        Assert.Subset(podLabels, Pairs(At(Kind("Service"), "spec", "selector")).ToHashSet());
        Assert.Subset(podLabels, Pairs(At(Kind("PodDisruptionBudget"), "spec", "selector", "matchLabels")).ToHashSet());
        var servicePorts = ((YamlSequenceNode)At(Container("marketintel-silo"), "ports")).Select(p => Text(p, "name")).ToList();
        foreach (YamlNode port in (YamlSequenceNode)At(Kind("Service"), "spec", "ports"))
        {
            Assert.Contains(Text(port, "targetPort"), servicePorts);
        }
    }

    // A Deployment's ports are the ConfigMap's, its probes ask the HTTP port for /healthz and /readyz, it selects its
    // own pods, and SIGTERM leaves the cluster within the server's shutdown budget, before Kubernetes kills the pod.
    private static void PortsAndProbes(Dictionary<string, string> config, YamlMappingNode deployment)
    {
        var container = (YamlMappingNode)((YamlSequenceNode)At(deployment, "spec", "template", "spec", "containers"))[0];
        var ports = ((YamlSequenceNode)At(container, "ports")).ToDictionary(p => Text(p, "name"), p => Text(p, "containerPort"), StringComparer.Ordinal);
        Assert.Equal(new Dictionary<string, string> { ["http"] = config["MarketIntel__HttpPort"], ["grpc"] = config["MarketIntel__GrpcPort"], ["silo"] = config["MarketIntel__SiloPort"] }, ports);
        Assert.Equal(("/healthz", "http"), (Text(container, "livenessProbe", "httpGet", "path"), Text(container, "livenessProbe", "httpGet", "port")));
        Assert.Equal(("/healthz", "http"), (Text(container, "startupProbe", "httpGet", "path"), Text(container, "startupProbe", "httpGet", "port")));
        Assert.Equal(("/readyz", "http"), (Text(container, "readinessProbe", "httpGet", "path"), Text(container, "readinessProbe", "httpGet", "port")));
        Assert.Equal(config["MarketIntel__HttpPort"], Text(deployment, "spec", "template", "metadata", "annotations", "prometheus.io/port"));
        var podLabels = Pairs(At(deployment, "spec", "template", "metadata", "labels")).ToHashSet();
        Assert.Subset(podLabels, Pairs(At(deployment, "spec", "selector", "matchLabels")).ToHashSet());
        Assert.True(TimeSpan.Parse(config["MarketIntel__ShutdownTimeout"], System.Globalization.CultureInfo.InvariantCulture)
            < TimeSpan.FromSeconds(int.Parse(Text(deployment, "spec", "template", "spec", "terminationGracePeriodSeconds"), System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal("true", Text(deployment, "spec", "template", "spec", "securityContext", "runAsNonRoot"));
        Assert.True(Has(At(container, "resources"), "requests"));
    }

    [Fact]
    public void Compose_and_Kubernetes_run_serving_silos_behind_the_published_ports_and_a_worker_behind_none()
    {
        string Role(IEnumerable<(string Key, string Value)> settings) => settings.Single(s => s.Key == "MarketIntel__Role").Value;
        Assert.All(Serving, s => Assert.Equal("serving", Role(Pairs(At(Service(s), "environment")))));
        Assert.Equal("worker", Role(Pairs(At(Service("worker"), "environment"))));
        Assert.False(Has(Service("worker"), "ports"), "the compose worker publishes ports: clients would reach it");
        Assert.Equal("serving", Role(LiteralEnv(Container("marketintel-silo"))));
        Assert.Equal("worker", Role(LiteralEnv(Container("marketintel-worker"))));
        // The role is each Deployment's own: a role in the shared ConfigMap would give both the same.
        Assert.DoesNotContain(Pairs(At(Kind("ConfigMap"), "data")), s => s.Key == "MarketIntel__Role");
        // The Service sends clients to serving pods only, and the workers' pods are not among them.
        var selector = Pairs(At(Kind("Service"), "spec", "selector")).ToHashSet();
        Assert.False(selector.IsSubsetOf(Pairs(At(Deployment("marketintel-worker"), "spec", "template", "metadata", "labels"))), "the Service selects the workers' pods");
        // Only serving silos register the model at start: the registry they hold is where a worker's start would wait.
        Assert.DoesNotContain(Pairs(At(Service("worker"), "environment")), s => s.Key.StartsWith("MarketIntel__Models", StringComparison.Ordinal));
        Assert.DoesNotContain(LiteralEnv(Container("marketintel-worker")), s => s.Key.StartsWith("MarketIntel__Models", StringComparison.Ordinal));
    }

    [Fact]
    public void The_Kubernetes_worker_asks_for_one_GPU_and_the_serving_silos_for_none()
    {
        const string Gpu = "nvidia.com/gpu";
        YamlNode resources = At(Container("marketintel-worker"), "resources");
        // An extended resource is scheduled by its request, which must equal its limit.
        Assert.Equal("1", Text(resources, "requests", Gpu));
        Assert.Equal("1", Text(resources, "limits", Gpu));
        YamlNode serving = At(Container("marketintel-silo"), "resources");
        Assert.False(Has(At(serving, "requests"), Gpu) || (Has(serving, "limits") && Has(At(serving, "limits"), Gpu)), "a serving silo asks for a GPU: the manifests give GPUs to workers only");
    }

    [Fact]
    public void Grafana_mounts_the_dashboards_where_the_provisioning_looks_and_every_mounted_path_exists()
    {
        var provider = (YamlMappingNode)((YamlSequenceNode)At(Documents(Deploy("grafana", "provisioning", "dashboards", "marketintel.yml")).Single(), "providers")).Single();
        string path = Text(provider, "options", "path");
        var mounts = ((YamlSequenceNode)At(Service("grafana"), "volumes")).Select(v => ((YamlScalarNode)v).Value!.Split(':')).ToList();
        Assert.Contains(mounts, m => m[0] == "../dashboards" && m[1] == path);
        foreach (string service in new[] { "grafana", "prometheus" })
        {
            foreach (string source in ((YamlSequenceNode)At(Service(service), "volumes")).Select(v => ((YamlScalarNode)v).Value!.Split(':')[0]).Where(s => s.StartsWith('.')))
            {
                Assert.True(Directory.Exists(Path.Combine(Deploy(), source)), $"compose mounts {source} into {service}, which does not exist");
            }
        }
    }

    [Fact]
    public void The_Dockerfile_builds_the_one_marketintel_command_in_stages_and_runs_it_as_a_non_root_user()
    {
        string[] lines = File.ReadAllLines(Deploy("Dockerfile"));
        var from = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, from.Count);
        Assert.Contains(lines, l => l.StartsWith("RUN dotnet publish src/MarketIntel.Cli/MarketIntel.Cli.csproj", StringComparison.Ordinal));
        Assert.Equal("USER $APP_UID", lines.Last(l => l.StartsWith("USER ", StringComparison.Ordinal)));
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"/app/marketintel.dll\"]", lines);
        // Files it copies from the repository are there.
        foreach (string line in lines.Where(l => l.StartsWith("COPY src/", StringComparison.Ordinal)))
        {
            Assert.True(File.Exists(Path.Combine(RepoPaths.Root, line.Split(' ')[1])), line);
        }
    }
}
