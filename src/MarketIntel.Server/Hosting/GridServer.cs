using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using MarketIntel.Grains;
using MarketIntel.Server.Api;
using MarketIntel.Server.Cluster;
using MarketIntel.Cache.Redis.Hosting;
using MarketIntel.Server.Limits;
using MarketIntel.Server.Security;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Migrations;
using Npgsql;
using StackExchange.Redis;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Prometheus;

namespace MarketIntel.Server.Hosting;

/// <summary>A silo host serving the gRPC API, the HTTP/JSON API, /metrics and the Orleans dashboard: on embedded
/// defaults one silo with localhost clustering and in-memory state; in cluster mode (section <c>Cluster</c>) a
/// member of a cluster with membership and the asset cache in Redis and durable state in PostgreSQL.</summary>
public static class GridServer
{
    /// <summary>
    /// Builds the host from appsettings.json, the environment and <paramref name="overrides"/> (command-line
    /// flags, as configuration keys), in that order of precedence. Throws <see cref="ServerConfigurationException"/>
    /// naming every setting at fault.
    /// </summary>
    public static WebApplication Build(IEnumerable<KeyValuePair<string, string?>>? overrides = null, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = Directory.GetCurrentDirectory() });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Kestrel warns once per connection refused over Limits:MaxConnections: thousands of lines in a flood.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel.Connections", LogLevel.Error);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        // gRPC logs every error status it returns at Information; a client polling an unknown asset would flood the log.
        builder.Logging.AddFilter("Grpc.AspNetCore.Server", LogLevel.Warning);
        logging?.Invoke(builder.Logging);

        ServerOptions server = ReadOptions(builder.Configuration);
        var cluster = new ClusterModeOptions();
        builder.Configuration.GetSection(ClusterModeOptions.Section).Bind(cluster);
        var postgres = new PostgresOptions();
        builder.Configuration.GetSection(PostgresOptions.Section).Bind(postgres);
        if (cluster.Enabled)
        {
            CheckDatabase(postgres);
            CheckRedis(builder.Configuration.GetSection(RedisCacheOptions.Section).Get<RedisCacheOptions>() ?? new());
        }
        builder.Services.AddOptions<ServerOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section));
        builder.Services.AddSingleton<IValidateOptions<ServerOptions>, ServerOptionsValidator>();

        // The grid's request handlers never block (grain calls are asynchronous, predictions take microseconds), so
        // socket completions may run inline on the thread that polled them instead of being queued to the thread
        // pool: one thread hop less per request, about 15% more predictions per second over HTTP on a 2-core machine
        // (docs/performance.md). It must be set before the process's first socket operation; an explicit
        // DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS (e.g. 0) in the environment wins.
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        }

        var limits = new LimitsOptions();
        builder.Configuration.GetSection(LimitsOptions.Section).Bind(limits);
        builder.Services.AddSingleton(Options.Create(limits));
        // Models are client input: the registry and every silo's model cache load them under these ceilings.
        builder.Services.AddSingleton(ModelLimitsFrom(builder.Configuration));
        if (builder.Configuration[$"{ModelsSection}:OnnxMemoryBytes"] is { } onnxMemory)
        {
            Inference.Onnx.OnnxRuntimeMemory.Configure(long.Parse(onnxMemory, System.Globalization.CultureInfo.InvariantCulture));
        }
        builder.Services.AddSingleton<StreamQuota>();

        var tls = new TlsOptions();
        builder.Configuration.GetSection(TlsOptions.Section).Bind(tls);
        builder.Services.AddSingleton(Options.Create(tls));
        X509Certificate2? certificate = tls.IsOn ? tls.Load() : null;

        IPAddress address = IPAddress.Parse(server.ListenAddress);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Applies to chunked bodies too, which a Content-Length check alone lets through.
            kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBodyBytes;
            kestrel.Limits.MaxConcurrentConnections = limits.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = limits.MaxConnections;
            kestrel.Limits.Http2.MaxStreamsPerConnection = limits.MaxStreamsPerConnection;
            kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = limits.KeepAliveTimeout;
            // Every port speaks TLS when a certificate is configured.
            void Port(int port, HttpProtocols protocols) => kestrel.Listen(address, port, o =>
            {
                o.Protocols = protocols;
                if (certificate is not null)
                {
                    o.UseHttps(certificate);
                }
            });
            Port(server.HttpPort, HttpProtocols.Http1);
            if (server.MetricsPort > 0)
            {
                Port(server.MetricsPort, HttpProtocols.Http1);
            }
            // gRPC without TLS needs HTTP/2 with prior knowledge on a port of its own; with TLS, ALPN offers h2.
            Port(server.GrpcPort, HttpProtocols.Http2);
        });

        builder.UseOrleans(silo =>
        {
            if (cluster.Enabled)
            {
                AddCluster(builder, silo, server, cluster, postgres);
            }
            else
            {
                silo.UseLocalhostClustering(siloPort: server.SiloPort, gatewayPort: server.GatewayPort);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = "marketintel-embedded";
                    o.ServiceId = ServiceId;
                });
            }
            silo.AddMarketIntelGrid(o => builder.Configuration.GetSection("Grid").Bind(o), inMemoryStorage: !cluster.Enabled);
            if (server.Dashboard)
            {
                silo.AddDashboard();
            }
        });

        builder.AddGridSecurity(limits);
        builder.Services.AddGrpc(o =>
        {
            o.Interceptors.Add<GridErrorInterceptor>();
            o.MaxReceiveMessageSize = limits.MaxGrpcMessageBytes;
        });
        builder.Services.AddSingleton<Application.GridOperations>();
        builder.Services.AddSingleton<PredictionFeed>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PredictionFeed>());
        builder.Services.AddHostedService<ModelBootstrap>();

        WebApplication app = builder.Build();
        GridPrometheus.Publish(app.Services.GetRequiredService<GridMetrics>(), app.Services.GetRequiredService<LocalPredictor>(),
            app.Services.GetService<Storage.Postgres.Storage.PostgresBarArchive>());
        app.UseMiddleware<RequestMetrics>();
        app.UseGridLimits();
        app.UseGridSecurity();
        app.MapGrpcService<GridService>();
        app.MapGridHttpApi();
        // Prometheus scrapes with a reader key; the dashboard (which streams the server's log) is the admins'.
        var metrics = app.MapMetrics("/metrics").WithMetadata(new RequiresRoleAttribute(ApiRole.Reader));
        if (server.MetricsPort > 0)
        {
            metrics.RequireHost($"*:{server.MetricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }
        if (server.Dashboard)
        {
            app.MapOrleansDashboard(routePrefix: server.DashboardPath.TrimEnd('/'));
        }
        return app;
    }

    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The configuration section of the model limits (<see cref="Inference.ModelLimits"/>) and ONNX Runtime's memory budget.</summary>
    public const string ModelsSection = "Models";

    private static Inference.ModelLimits ModelLimitsFrom(IConfiguration configuration) =>
        configuration.GetSection(ModelsSection).Get<Inference.ModelLimits>() ?? Inference.ModelLimits.Default;

    /// <summary>The Orleans service id: grain state rows in PostgreSQL are keyed by it.</summary>
    public const string ServiceId = "marketintel";

    // Membership in Redis, state in PostgreSQL, the asset cache in Redis.
    private static void AddCluster(WebApplicationBuilder builder, ISiloBuilder silo, ServerOptions server, ClusterModeOptions cluster, PostgresOptions postgres)
    {
        var redis = builder.Configuration.GetSection(RedisCacheOptions.Section).Get<RedisCacheOptions>() ?? new();
        silo.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis.Redis));
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = ServiceId;
        });
        silo.Configure<EndpointOptions>(o =>
        {
            IPAddress listen = IPAddress.Parse(server.ListenAddress);
            o.AdvertisedIPAddress = cluster.AdvertisedAddress is { } advertised ? IPAddress.Parse(advertised) : listen;
            o.SiloPort = server.SiloPort;
            o.GatewayPort = server.GatewayPort;
            o.SiloListeningEndpoint = new IPEndPoint(listen, server.SiloPort);
            o.GatewayListeningEndpoint = server.GatewayPort == 0 ? null : new IPEndPoint(listen, server.GatewayPort);
        });
        // How fast a dead silo is noticed (probe timeouts, missed probes, votes): Orleans' defaults unless set.
        silo.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection("Orleans:ClusterMembership"));
        silo.AddMarketIntelPostgres(postgres);
        silo.AddMarketIntelRedisCache(o => o.Bind(builder.Configuration.GetSection(RedisCacheOptions.Section)));
        builder.Services.AddSingleton(cluster);
    }

    // Membership needs Redis to join: without it Orleans' start fails with pages of traces; one line instead.
    private static void CheckRedis(RedisCacheOptions cluster)
    {
        var options = ConfigurationOptions.Parse(cluster.Redis);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 5000;
        options.ConnectRetry = 1;
        try
        {
            using var redis = ConnectionMultiplexer.Connect(options);
            redis.GetDatabase().Ping();
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            string message = e.Message;
            int end = message.IndexOfAny(['\r', '\n']);
            throw new ServerConfigurationException(
                $"{RedisCacheOptions.Section}:Redis: cannot reach Redis at {RedisCacheOptions.Redact(cluster.Redis)}: {(end < 0 ? message : message[..end])}");
        }
    }

    // A silo must not start against a database it cannot reach or whose schema is not this build's.
    private static void CheckDatabase(PostgresOptions postgres)
    {
        try
        {
            using var database = NpgsqlDataSource.Create(postgres.ConnectionString);
            Migrator.EnsureCurrentAsync(database).GetAwaiter().GetResult();
        }
        catch (SchemaException e)
        {
            throw new ServerConfigurationException($"{PostgresOptions.Section}:ConnectionString: {e.Message}");
        }
        catch (PostgresException e)
        {
            throw new ServerConfigurationException($"{PostgresOptions.Section}:ConnectionString: PostgreSQL refused: {e.MessageText}");
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new ServerConfigurationException(
                $"{PostgresOptions.Section}:ConnectionString: cannot reach PostgreSQL at {PostgresOptions.Redact(postgres.ConnectionString)}: {e.Message}");
        }
    }

    /// <summary>The server and grid options as configured, checked; throws naming every setting at fault.</summary>
    public static ServerOptions ReadOptions(IConfiguration configuration)
    {
        var server = new ServerOptions();
        var failures = new List<string>();
        bool clusterMode = false;
        try
        {
            configuration.GetSection(ServerOptions.Section).Bind(server);
            var result = new ServerOptionsValidator().Validate(null, server);
            if (result.Failed)
            {
                failures.AddRange(result.Failures);
            }
        }
        catch (InvalidOperationException e)
        {
            // A value of the wrong type, e.g. a port that is not a number: the binder's message names the key.
            failures.Add(e.InnerException is null ? e.Message : $"{e.Message} ({e.InnerException.Message})");
        }
        try
        {
            var cluster = new ClusterModeOptions();
            configuration.GetSection(ClusterModeOptions.Section).Bind(cluster);
            failures.AddRange(cluster.Problems(server.ListenAddress));
            clusterMode = cluster.Enabled;
            if (cluster.Enabled)
            {
                var redis = new RedisCacheOptions();
                configuration.GetSection(RedisCacheOptions.Section).Bind(redis);
                if (new RedisCacheOptionsValidator().Validate(null, redis) is { Failed: true } result)
                {
                    failures.AddRange(result.Failures);
                }
                var postgres = new PostgresOptions();
                configuration.GetSection(PostgresOptions.Section).Bind(postgres);
                failures.AddRange(postgres.Problems());
            }
        }
        catch (InvalidOperationException e)
        {
            failures.Add(e.InnerException is null ? e.Message : $"{e.Message} ({e.InnerException.Message})");
        }
        try
        {
            var auth = new AuthOptions();
            configuration.GetSection(AuthOptions.Section).Bind(auth);
            failures.AddRange(auth.Problems(server.ListenAddress, clusterMode));
            var limits = new LimitsOptions();
            configuration.GetSection(LimitsOptions.Section).Bind(limits);
            failures.AddRange(limits.Problems());
            var tls = new TlsOptions();
            configuration.GetSection(TlsOptions.Section).Bind(tls);
            failures.AddRange(tls.Problems());
            try
            {
                ModelLimitsFrom(configuration).Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                failures.Add($"{ModelsSection}:{e.ParamName} must be positive");
            }
            if (configuration[$"{ModelsSection}:OnnxMemoryBytes"] is { } onnxMemory
                && (!long.TryParse(onnxMemory, System.Globalization.CultureInfo.InvariantCulture, out long bytes) || bytes < 1L << 20 || bytes > uint.MaxValue))
            {
                failures.Add($"{ModelsSection}:OnnxMemoryBytes '{onnxMemory}' must be a number of bytes from 1048576 (1 MiB) to 4294967295");
            }
        }
        catch (InvalidOperationException e)
        {
            failures.Add(e.InnerException is null ? e.Message : $"{e.Message} ({e.InnerException.Message})");
        }
        try
        {
            var grid = new GridOptions();
            configuration.GetSection("Grid").Bind(grid);
            grid.Validate();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            failures.Add(e.Message);
        }
        return failures.Count == 0 ? server : throw new ServerConfigurationException(failures);
    }
}

/// <summary>Settings a host cannot start with; the message names each one.</summary>
public sealed class ServerConfigurationException : Exception
{
    public ServerConfigurationException()
    {
    }

    public ServerConfigurationException(string message)
        : base(message)
    {
    }

    public ServerConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ServerConfigurationException(IReadOnlyList<string> failures)
        : base(string.Join("; ", failures))
    {
    }
}
