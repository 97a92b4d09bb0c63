using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using MarketIntel.Server.Api;
using MarketIntel.Server.Limits;
using MarketIntel.Server.Security;
using MarketIntel.Server.WebConsole;

namespace MarketIntel.Server.Hosting;

/// <summary>The grid's APIs in the host: Kestrel's ports and limits, gRPC, HTTP/JSON, keys and tokens, and the models registered at start.</summary>
public static class GridApiHosting
{
    /// <summary>
    /// Configures Kestrel (the HTTP/1.1 port, the gRPC port, the metrics port when set; TLS on every port when a
    /// certificate is configured; the request limits) and registers the gRPC service, API security, the live
    /// prediction feed and the start-up model registration.
    /// </summary>
    public static WebApplicationBuilder AddGridApi(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var server = builder.Configuration.Bound<ServerOptions>(ServerOptions.Section);
        var limits = builder.Configuration.Bound<LimitsOptions>(LimitsOptions.Section);
        var tls = builder.Configuration.Bound<TlsOptions>(TlsOptions.Section);
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
        builder.Services.AddSingleton<StreamQuota>();
        builder.Services.AddSingleton<StreamMetrics>();
        builder.AddGridSecurity(limits);
        builder.Services.AddGrpc(o =>
        {
            o.Interceptors.Add<GridErrorInterceptor>();
            o.MaxReceiveMessageSize = limits.MaxGrpcMessageBytes;
        });
        builder.Services.AddSingleton<Application.GridOperations>();
        builder.Services.AddSingleton<Application.ModelOperations>();
        builder.Services.AddSingleton<Application.ModelProfiles>();
        builder.Services.AddSingleton<Application.ModelScoresQuery>();
        builder.Services.AddSingleton<Application.DriftQuery>();
        builder.Services.AddSingleton<Application.RetrainOperations>();
        builder.Services.AddSingleton<Application.BarHolder>();
        builder.Services.AddSingleton<Application.AssetsQuery>();
        builder.Services.AddSingleton<PredictionFeed>();
        builder.Services.AddSingleton<LivePredictions>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PredictionFeed>());
        builder.Services.AddHostedService<ModelBootstrap>();
        return builder;
    }

    /// <summary>Puts the limits and the key checks in front of the endpoints and maps the gRPC service and the HTTP/JSON API.</summary>
    public static WebApplication UseGridApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseGridLimits();
        app.UseGridSecurity();
        app.MapGrpcService<GridService>();
        app.MapGrpcService<ModelsService>();
        app.MapGridHttpApi();
        app.MapGrpcService<ModelScoresService>();
        app.MapModelScoresHttpApi();
        app.MapGrpcService<DriftService>();
        app.MapDriftHttpApi();
        app.MapGrpcService<RetrainService>();
        app.MapRetrainHttpApi();
        app.MapAssetsHttpApi();
        app.MapConsole();
        return app;
    }
}
