namespace MarketIntel.Server.Hosting;

/// <summary>A silo host serving the gRPC API, the HTTP/JSON API, /metrics and the Orleans dashboard: on embedded
/// defaults one silo with localhost clustering and in-memory state; in cluster mode (section <c>Cluster</c>) a
/// member of a cluster with membership and the asset cache in Redis and durable state in PostgreSQL.</summary>
public static class GridServer
{
    /// <summary>
    /// Builds the host from appsettings.json, the environment and <paramref name="overrides"/> (command-line
    /// flags, as configuration keys), in that order of precedence. Throws <see cref="ServerConfigurationException"/>
    /// naming every setting at fault; cluster mode's servers are checked when the host starts.
    /// </summary>
    public static WebApplication Build(IEnumerable<KeyValuePair<string, string?>>? overrides = null, Action<ILoggingBuilder>? logging = null)
    {
        // First of all: nothing may have touched a socket yet (see UseInlineSocketCompletions).
        UseInlineSocketCompletions();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = Directory.GetCurrentDirectory() });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }
        // Every setting is checked before any is used to compose the host, so that all those at fault are named.
        ReadOptions(builder.Configuration);
        builder.AddGridTelemetry();
        logging?.Invoke(builder.Logging);
        builder.Services.AddGridConfiguration(builder.Configuration);
        builder.AddGridCluster();
        builder.AddGridSilo();
        builder.AddGridApi();

        WebApplication app = builder.Build();
        // A worker's device (GridSiloHosting) becomes the container's to dispose once resolved: resolve it now.
        _ = app.Services.GetService<Gpu.Devices.GpuDevice>();
        app.UseGridTelemetry();
        app.UseGridApi();
        return app;
    }

    /// <summary>The socket setting <see cref="Build"/> applies unless the environment sets it.</summary>
    public const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    // The grid's request handlers never block (grain calls are asynchronous, predictions take microseconds), so
    // socket completions may run inline on the thread that polled them instead of being queued to the thread pool:
    // one thread hop less per request, about 15% more predictions per second over HTTP on a 2-core machine
    // (docs/performance.md). The runtime reads the setting once, at the process's first socket operation, and
    // ignores it afterwards: it must be set before anything opens a socket (cluster mode's probes of PostgreSQL and
    // Redis, Orleans, Kestrel), which is why Build sets it before anything else. An explicit value in the
    // environment (e.g. 0) wins.
    private static void UseInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        }
    }

    /// <summary>
    /// The server options as configured, once every setting of the host has been checked by the validators it
    /// starts with (<see cref="GridConfiguration"/>); throws <see cref="ServerConfigurationException"/> naming every
    /// setting at fault.
    /// </summary>
    public static ServerOptions ReadOptions(IConfiguration configuration) => ReadOptions(configuration, Environment.GetEnvironmentVariable);

    /// <summary>As <see cref="ReadOptions(IConfiguration)"/>, with the process environment read through <paramref name="environment"/>.</summary>
    public static ServerOptions ReadOptions(IConfiguration configuration, Func<string, string?> environment)
    {
        using ServiceProvider options = new ServiceCollection().AddGridConfiguration(configuration, environment).BuildServiceProvider();
        GridConfiguration.Validate(options);
        return options.GetRequiredService<Microsoft.Extensions.Options.IOptions<ServerOptions>>().Value;
    }
}
