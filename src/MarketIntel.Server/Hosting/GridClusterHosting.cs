using System.Net;
using MarketIntel.Cache.Redis.Hosting;
using MarketIntel.Server.Cluster;
using MarketIntel.Storage.Postgres.Hosting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace MarketIntel.Server.Hosting;

/// <summary>Cluster mode's providers: membership in Redis, durable state in PostgreSQL, the asset cache in Redis.</summary>
public static class GridClusterHosting
{
    /// <summary>
    /// In cluster mode (section <c>Cluster</c>), registers the providers and the probes that check their servers
    /// at start (<see cref="ClusterProbes"/>); on embedded defaults, nothing. Call before
    /// <see cref="GridSiloHosting.AddGridSilo"/>, whose embedded defaults these replace.
    /// </summary>
    public static WebApplicationBuilder AddGridCluster(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!GridConfiguration.IsClusterMode(builder.Configuration))
        {
            return builder;
        }
        var server = builder.Configuration.Bound<ServerOptions>(ServerOptions.Section);
        var cluster = builder.Configuration.Bound<ClusterModeOptions>(ClusterModeOptions.Section);
        // One Redis serves membership and the asset cache: its setting is the cache's.
        string redis = builder.Configuration.Bound<RedisCacheOptions>(RedisCacheOptions.Section).Redis;
        builder.Services.AddHostedService<ClusterProbes>();
        builder.UseOrleans(silo =>
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = GridSiloHosting.ServiceId;
            });
            // On Kubernetes (Cluster:Kubernetes), the package's ids come from the pod's environment, which the validator
            // has held equal to these; the advertised address stays Cluster:AdvertisedAddress (the pod IP in the
            // manifests), set below, which the package leaves alone.
            if (cluster.Kubernetes)
            {
                silo.UseKubernetesHosting();
            }
            silo.Configure<EndpointOptions>(o =>
            {
                IPAddress listen = IPAddress.Parse(server.ListenAddress);
                o.AdvertisedIPAddress = cluster.AdvertisedAddress is { } advertised ? IPAddress.Parse(advertised) : listen;
                o.SiloPort = server.SiloPort;
                o.GatewayPort = server.GatewayPort;
                o.SiloListeningEndpoint = new IPEndPoint(listen, server.SiloPort);
                o.GatewayListeningEndpoint = server.GatewayPort == 0 ? null : new IPEndPoint(listen, server.GatewayPort);
            });
            // How fast a dead silo is noticed (probe timeouts, missed probes, votes): Orleans' defaults unless set,
            // but for the heartbeat: every 5 s rather than 30 s, so that a crashed silo's entry is stale after 10 s and
            // CrashedSiloSweep can let a restarted cluster serve within 30 s (one small Redis write per silo each time).
            silo.Configure<ClusterMembershipOptions>(o => o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5));
            silo.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection("Orleans:ClusterMembership"));
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, CrashedSiloSweep>();
            // Their options were registered with the host's others (GridConfiguration).
            silo.AddMarketIntelPostgres();
            silo.AddMarketIntelRedisCache();
        });
        return builder;
    }
}
