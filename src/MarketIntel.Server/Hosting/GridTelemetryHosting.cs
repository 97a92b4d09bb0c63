using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Server.Api;
using MarketIntel.Server.Security;
using MarketIntel.Server.Telemetry;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using Prometheus;

namespace MarketIntel.Server.Hosting;

/// <summary>What operators watch: the log's levels, the Prometheus metrics at <c>/metrics</c>, the Orleans dashboard.</summary>
public static class GridTelemetryHosting
{
    /// <summary>
    /// Sets the log levels of the frameworks' chatty categories, registers the export of the components' meters
    /// (<see cref="PrometheusExport"/>; every other meter, Orleans' among them, goes through prometheus-net's meter
    /// adapter) and adds the Orleans dashboard to the silo when it is on.
    /// </summary>
    public static WebApplicationBuilder AddGridTelemetry(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Before the first scrape, which starts the adapter.
        PrometheusExport.ExcludeFromMeterAdapter();
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<PrometheusExport>();
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        // Two Orleans warnings print on every start and say nothing wrong: dropped by event, not by category.
        StartupNoiseFilter.Install(builder.Services);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Kestrel warns once per connection refused over Limits:MaxConnections: thousands of lines in a flood.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel.Connections", LogLevel.Error);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        // A start that fails (a start-up probe's ServerConfigurationException, say) is logged here with its stack
        // trace and then thrown to the caller, which reports it (serve: one line naming the setting). Critical still
        // shows: a background service that fails later and stops the host.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        // gRPC logs every error status it returns at Information; a client polling an unknown asset would flood the log.
        builder.Logging.AddFilter("Grpc.AspNetCore.Server", LogLevel.Warning);
        if (builder.Configuration.Bound<ServerOptions>(ServerOptions.Section).Dashboard)
        {
            builder.UseOrleans(silo => silo.AddDashboard());
        }
        return builder;
    }

    /// <summary>
    /// Starts publishing the components' meters, counts every request (first in the pipeline, so refusals are counted
    /// too) and maps <c>/metrics</c> (a reader's key; on its own port when one is set) and the dashboard (an admin's).
    /// </summary>
    public static WebApplication UseGridTelemetry(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // Resolved now: the export listens before the first request is measured, and the components' totals are on
        // /metrics from the first scrape rather than from their first use.
        app.Services.GetRequiredService<PrometheusExport>();
        app.Services.GetRequiredService<GridMetrics>();
        // Its counters start at 0 on every silo, so a silo's first job of each kind counts in rate() and increase().
        app.Services.GetRequiredService<RetrainMetrics>();
        app.Services.GetRequiredService<SiloInfoMetrics>();
        app.Services.GetRequiredService<StreamMetrics>();
        app.Services.GetService<IBarArchive>();
        app.UseMiddleware<RequestMetrics>();
        var server = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
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
}
