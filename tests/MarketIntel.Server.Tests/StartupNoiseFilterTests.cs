using MarketIntel.Server.Telemetry;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Server.Tests;

/// <summary>Only the two start-up notes are dropped: every other warning of their categories is kept.</summary>
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
}
