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
/// Filters by category and level cannot tell these from real warnings of the same categories, hence a wrapper on each
/// logging provider that sees the event id and the stall's duration.
/// </summary>
internal sealed class StartupNoiseFilter(ILoggerProvider inner) : ILoggerProvider, ISupportExternalScope
{
    public const string SiloCategory = "Orleans.Runtime.Silo";
    public const string WatchdogCategory = "Orleans.Runtime.Watchdog";
    public const int ServerGcNote = 100405;
    public const int StallWarning = 100150;

    private static readonly DateTime ProcessStarted = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    /// <summary>Wraps every logging provider registered so far.</summary>
    public static void Wrap(IServiceCollection services)
    {
        foreach (ServiceDescriptor provider in services.Where(d => d.ServiceType == typeof(ILoggerProvider) && !d.IsKeyedService).ToList())
        {
            services.Remove(provider);
            services.AddSingleton<ILoggerProvider>(sp => new StartupNoiseFilter(provider.ImplementationInstance as ILoggerProvider
                ?? (ILoggerProvider?)provider.ImplementationFactory?.Invoke(sp)
                ?? (ILoggerProvider)ActivatorUtilities.CreateInstance(sp, provider.ImplementationType!)));
        }
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

    public void SetScopeProvider(IExternalScopeProvider scopeProvider)
    {
        if (inner is ISupportExternalScope scoped)
        {
            scoped.SetScopeProvider(scopeProvider);
        }
    }

    public void Dispose() => inner.Dispose();

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
