using System.Diagnostics;

namespace MarketIntel.Server.Telemetry;

/// <summary>
/// Keeps two Orleans warnings that fire on every start, and tell an operator nothing, out of the log (every other
/// entry, warnings of the same categories included, passes through):
/// <list type="bullet">
/// <item>The silo's two ServerGC notes (Orleans.Runtime.Silo, event 100405): advice printed whenever the process runs
/// the workstation GC, which the grid's hosts run by default; it is a deployment choice
/// (<c>DOTNET_gcServer=1</c>), not a fault, and repeating it on every start teaches readers to skip warnings.</item>
/// <item>A watchdog stall (Orleans.Runtime.Watchdog, event 100150) longer than the process has lived. The watchdog
/// measures from a timestamp that starts at zero, so its first check reports the machine's uptime as a stall
/// "potentially indicating deadlock". A stall within the process's life is real and still logged.</item>
/// </list>
/// Filters by category and level cannot tell these from real warnings of the same categories, so this sits in front of
/// the logger factory and sees each entry's event id and the stall's duration. It decorates the factory rather than
/// each provider: the factory matches per-provider levels (<c>Logging:Console:LogLevel:...</c>) by the provider's type
/// and alias, which a wrapper around the provider would hide.
/// </summary>
internal sealed class StartupNoiseFilter(ILoggerFactory inner) : ILoggerFactory
{
    public const string SiloCategory = "Orleans.Runtime.Silo";
    public const string WatchdogCategory = "Orleans.Runtime.Watchdog";
    public const int ServerGcNote = 100405;
    public const int StallWarning = 100150;

    private static readonly DateTime ProcessStarted = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    /// <summary>
    /// Puts the filter in front of the logger factory registered so far, which stays in the container (keyed, so only
    /// the filter resolves it) with its providers, their rules and its disposal as they were.
    /// </summary>
    public static void Install(IServiceCollection services)
    {
        ServiceDescriptor registered = services.Last(d => d.ServiceType == typeof(ILoggerFactory) && !d.IsKeyedService);
        services.Remove(registered);
        Type key = typeof(StartupNoiseFilter);
        services.Add(registered switch
        {
            { ImplementationInstance: { } instance } => ServiceDescriptor.KeyedSingleton(typeof(ILoggerFactory), key, instance),
            { ImplementationFactory: { } create } => new ServiceDescriptor(typeof(ILoggerFactory), key, (sp, _) => create(sp), registered.Lifetime),
            _ => new ServiceDescriptor(typeof(ILoggerFactory), key, registered.ImplementationType!, registered.Lifetime),
        });
        services.AddSingleton<ILoggerFactory>(sp => new StartupNoiseFilter(sp.GetRequiredKeyedService<ILoggerFactory>(key)));
    }

    /// <summary>Whether an entry is one of the two kinds of start-up noise.</summary>
    public static bool IsNoise(string category, EventId id, object? state, TimeSpan processAge) => category switch
    {
        SiloCategory => id.Id == ServerGcNote,
        WatchdogCategory => id.Id == StallWarning && StallOf(state) is { } stall && stall > processAge,
        _ => false,
    };

    private static TimeSpan? StallOf(object? state) =>
        state is IReadOnlyList<KeyValuePair<string, object?>> values
            ? values.Where(v => v.Key == "TimeSinceLastTick").Select(v => v.Value).OfType<TimeSpan>().Cast<TimeSpan?>().FirstOrDefault()
            : null;

    public ILogger CreateLogger(string categoryName) =>
        categoryName is SiloCategory or WatchdogCategory ? new Filtered(inner.CreateLogger(categoryName), categoryName) : inner.CreateLogger(categoryName);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The container disposes the factory behind the filter, as it did before the filter was installed.
    public void Dispose()
    {
    }

    private sealed class Filtered(ILogger inner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsNoise(category, eventId, state, DateTime.UtcNow - ProcessStarted))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
