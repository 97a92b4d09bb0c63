using System.Net;
using Microsoft.AspNetCore.Hosting;
using MarketIntel.Grains;
using MarketIntel.Server.Api;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Prometheus;

namespace MarketIntel.Server.Hosting;

/// <summary>A silo host on embedded defaults: one Orleans silo with localhost clustering and in-memory state,
/// serving the gRPC API, the HTTP/JSON API, /metrics and the Orleans dashboard.</summary>
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
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        // gRPC logs every error status it returns at Information; a client polling an unknown asset would flood the log.
        builder.Logging.AddFilter("Grpc.AspNetCore.Server", LogLevel.Warning);
        logging?.Invoke(builder.Logging);

        ServerOptions server = ReadOptions(builder.Configuration);
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

        IPAddress address = IPAddress.Parse(server.ListenAddress);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(address, server.HttpPort, o => o.Protocols = HttpProtocols.Http1);
            // gRPC without TLS needs HTTP/2 with prior knowledge on a port of its own.
            kestrel.Listen(address, server.GrpcPort, o => o.Protocols = HttpProtocols.Http2);
        });

        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort: server.SiloPort, gatewayPort: server.GatewayPort);
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = "marketintel-embedded";
                o.ServiceId = "marketintel";
            });
            silo.AddMarketIntelGrid(o => builder.Configuration.GetSection("Grid").Bind(o));
            if (server.Dashboard)
            {
                silo.AddDashboard();
            }
        });

        builder.Services.AddGrpc(o => o.Interceptors.Add<GridErrorInterceptor>());
        builder.Services.AddSingleton<PredictionFeed>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PredictionFeed>());
        builder.Services.AddHostedService<ModelBootstrap>();

        WebApplication app = builder.Build();
        GridPrometheus.Publish(app.Services.GetRequiredService<GridMetrics>(), app.Services.GetRequiredService<LocalPredictor>());
        app.UseHttpMetrics(o => o.RequestDuration.Histogram = Metrics.CreateHistogram(
            "http_request_duration_seconds",
            "HTTP and gRPC request latency by endpoint (gRPC methods appear as /marketintel.v1.Grid/Method)",
            new HistogramConfiguration { Buckets = GridPrometheus.LatencyBuckets, LabelNames = ["code", "method", "endpoint"] }));
        app.MapGrpcService<GridService>();
        app.MapGridHttpApi();
        app.MapMetrics("/metrics");
        if (server.Dashboard)
        {
            app.MapOrleansDashboard(routePrefix: server.DashboardPath.TrimEnd('/'));
        }
        return app;
    }

    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The server and grid options as configured, checked; throws naming every setting at fault.</summary>
    public static ServerOptions ReadOptions(IConfiguration configuration)
    {
        var server = new ServerOptions();
        var failures = new List<string>();
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
