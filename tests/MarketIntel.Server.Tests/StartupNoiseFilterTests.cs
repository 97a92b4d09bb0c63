using MarketIntel.Server.Hosting;
using MarketIntel.Server.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Server.Tests;

/// <summary>
/// Only the two start-up notes are dropped: every other warning of their categories is kept, and the filter leaves the
/// log's configuration alone (levels set for one provider by its alias still apply to that provider).
/// </summary>
public sealed class StartupNoiseFilterTests
{
    private static readonly TimeSpan ProcessAge = TimeSpan.FromSeconds(30);

    private static KeyValuePair<string, object?>[] Stall(TimeSpan duration) =>
        [new("TimeSinceLastTick", duration), new("{OriginalFormat}", "Participant check thread has not completed for {TimeSinceLastTick}")];

    [Fact]
    public void The_ServerGC_notes_are_noise_and_other_silo_events_are_not()
    {
        Assert.True(StartupNoiseFilter.IsNoise("Orleans.Runtime.Silo", new EventId(100405), null, ProcessAge));
        Assert.False(StartupNoiseFilter.IsNoise("Orleans.Runtime.Silo", new EventId(100406), null, ProcessAge));
        Assert.False(StartupNoiseFilter.IsNoise("Orleans.Runtime.Other", new EventId(100405), null, ProcessAge));
    }

    [Fact]
    public void A_stall_longer_than_the_process_has_lived_is_noise_and_a_real_one_is_kept()
    {
        // The spurious one: the machine's uptime, measured from a timestamp of zero.
        Assert.True(StartupNoiseFilter.IsNoise("Orleans.Runtime.Watchdog", new EventId(100150), Stall(TimeSpan.FromHours(4)), ProcessAge));
        Assert.False(StartupNoiseFilter.IsNoise("Orleans.Runtime.Watchdog", new EventId(100150), Stall(TimeSpan.FromSeconds(12)), ProcessAge));
        Assert.False(StartupNoiseFilter.IsNoise("Orleans.Runtime.Watchdog", new EventId(100151), Stall(TimeSpan.FromHours(4)), ProcessAge));
        Assert.False(StartupNoiseFilter.IsNoise("Orleans.Runtime.Watchdog", new EventId(100150), null, ProcessAge));
    }

    [Fact]
    public void In_the_server_s_logging_a_provider_s_own_level_applies_and_only_the_noise_is_dropped()
    {
        // "Quiet" (the alias of QuietProvider) logs Orleans.Runtime.Silo from Error only; Plain has no level of its own,
        // so the server's Warning for Orleans applies to it. The alias matches by the registered provider's type.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MarketIntel:Dashboard"] = "false",
            ["Logging:Quiet:LogLevel:Orleans.Runtime.Silo"] = "Error",
        });
        var quiet = new QuietProvider();
        var plain = new PlainProvider();
        builder.Logging.ClearProviders().AddProvider(quiet).AddProvider(plain);
        builder.AddGridTelemetry();
        using var services = builder.Services.BuildServiceProvider();
        var factory = services.GetRequiredService<ILoggerFactory>();

        ILogger silo = factory.CreateLogger(StartupNoiseFilter.SiloCategory);
        silo.LogWarning(new EventId(StartupNoiseFilter.ServerGcNote), "ServerGC note");
        silo.LogWarning(new EventId(100406), "a silo warning");
        silo.LogError(new EventId(100407), "a silo error");
        ILogger watchdog = factory.CreateLogger(StartupNoiseFilter.WatchdogCategory);
        watchdog.LogWarning(new EventId(StartupNoiseFilter.StallWarning), "stalled for {TimeSinceLastTick}", TimeSpan.FromDays(3));
        watchdog.LogWarning(new EventId(StartupNoiseFilter.StallWarning), "stalled for {TimeSinceLastTick}", TimeSpan.FromMilliseconds(1));
        factory.CreateLogger("Orleans.Runtime.Catalog").LogInformation("below the server's Warning for Orleans");

        Assert.Equal(["Orleans.Runtime.Silo 100407", "Orleans.Runtime.Watchdog 100150"], quiet.Entries);
        Assert.Equal(["Orleans.Runtime.Silo 100406", "Orleans.Runtime.Silo 100407", "Orleans.Runtime.Watchdog 100150"], plain.Entries);
    }

    /// <summary>Records "category event-id" of each entry it is given.</summary>
    private class RecordingProvider : ILoggerProvider
    {
        public List<string> Entries { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Recorder(Entries, categoryName);

        public void Dispose()
        {
        }

        private sealed class Recorder(List<string> entries, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Add($"{category} {eventId.Id}");
        }
    }

    [ProviderAlias("Quiet")]
    private sealed class QuietProvider : RecordingProvider;

    private sealed class PlainProvider : RecordingProvider;
}
