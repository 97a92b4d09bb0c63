using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains.Retraining.Triggers;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// A one-silo cluster on embedded defaults (reminders in memory) whose schedule asks for a job every second, but for
/// model "quiet" (off) and "slow" (every 10 days); its requests go to a <see cref="RecordingRetrainTriggers"/>.
/// </summary>
public sealed class ScheduledCluster() : ConfiguredCluster<ScheduledCluster.Configurator>(1)
{
    // The silo runs in this process: its configurator registers this one recorder.
    internal static RecordingRetrainTriggers Triggers { get; } = new();

    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<IRetrainTriggers>(Triggers);
            siloBuilder.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            siloBuilder.Services.AddMarketIntelRetrainSchedule(o => o.Configure(s =>
            {
                s.Every = TimeSpan.FromSeconds(1);
                s.Models["quiet"] = TimeSpan.Zero;
                s.Models["slow"] = TimeSpan.FromDays(10);
            }));
            siloBuilder.AddMarketIntelGrid(o => o.Features = ClusterFixture.Spec);
        }
    }
}

/// <summary>The retraining schedule: a reminder per model name that asks for a job through <see cref="IRetrainTriggers"/> on each tick.</summary>
public sealed class RetrainScheduleTests(ScheduledCluster scheduled) : IClassFixture<ScheduledCluster>
{
    private static readonly byte[] Model = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_name_registered_while_the_grid_runs_asks_for_a_scheduled_job_on_every_tick()
    {
        string name = $"fresh-{Guid.NewGuid():N}";
        await scheduled.Cluster.Client.GetGrain<IModelRegistryGrain>(0).Register(name, "v1", Model);

        // Nothing but the registration started it: the registry gives a new name its schedule.
        IReadOnlyList<RetrainRequest> sent = await ScheduledCluster.Triggers.WaitFor(name, 2, Patience);
        Assert.All(sent, request =>
        {
            Assert.Equal(RetrainTrigger.Schedule, request.Trigger);
            Assert.Equal(RetrainScheduleGrain.Client, request.Client);
            Assert.Equal("schedule: every 00:00:01", request.Reason);
            Assert.False(request.Force);
            Assert.Null(request.Assets);
        });
    }

    [Fact]
    public async Task A_name_set_off_keeps_no_schedule_and_a_name_with_its_own_period_keeps_that_one()
    {
        var grains = scheduled.Cluster.Client;
        await grains.GetGrain<IModelRegistryGrain>(0).Register("quiet", "v1", Model);
        await grains.GetGrain<IModelRegistryGrain>(0).Register("slow", "v1", Model);
        Assert.Null(await grains.GetGrain<IRetrainScheduleGrain>("quiet").Apply());
        Assert.Equal(TimeSpan.FromDays(10), await grains.GetGrain<IRetrainScheduleGrain>("slow").Apply());
        // Applying again changes nothing (the reminder keeps its phase), and the other names keep the default.
        Assert.Equal(TimeSpan.FromDays(10), await grains.GetGrain<IRetrainScheduleGrain>("slow").Apply());
        Assert.Equal(TimeSpan.FromSeconds(1), await grains.GetGrain<IRetrainScheduleGrain>("any-other").Apply());
    }

    [Fact]
    public void The_reminder_is_named_after_its_period_so_a_changed_period_is_told_apart()
    {
        Assert.Equal("retrain every 1.00:00:00", RetrainScheduleGrain.ReminderOf(TimeSpan.FromDays(1)));
        Assert.NotEqual(RetrainScheduleGrain.ReminderOf(TimeSpan.FromHours(1)), RetrainScheduleGrain.ReminderOf(TimeSpan.FromHours(2)));
    }
}

/// <summary>The schedule's settings: which period each name gets, and what is refused and why.</summary>
public sealed class RetrainScheduleOptionsTests
{
    [Fact]
    public void Every_name_takes_the_default_period_unless_its_own_overrides_it_and_zero_turns_a_name_off()
    {
        var options = new RetrainScheduleOptions { Every = TimeSpan.FromHours(6) };
        options.Models["daily"] = TimeSpan.FromDays(1);
        options.Models["never"] = TimeSpan.Zero;
        Assert.Equal(TimeSpan.FromHours(6), options.PeriodOf("other"));
        Assert.Equal(TimeSpan.FromDays(1), options.PeriodOf("daily"));
        Assert.Null(options.PeriodOf("never"));
        Assert.Equal(TimeSpan.FromHours(6), options.Shortest);
        Assert.True(options.AnyOn);

        var off = new RetrainScheduleOptions();
        off.Models["never"] = TimeSpan.Zero;
        Assert.Null(off.PeriodOf("other"));
        Assert.False(off.AnyOn);
        Assert.Null(off.Shortest);
    }

    [Fact]
    public void Periods_out_of_range_are_refused_naming_each_setting()
    {
        var options = new RetrainScheduleOptions { Every = TimeSpan.FromMilliseconds(500) };
        options.Models["long"] = TimeSpan.FromDays(50);
        options.Models["negative"] = TimeSpan.FromMinutes(-1);
        options.Models["fine"] = TimeSpan.FromDays(7);
        var result = new RetrainScheduleOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
        [
            "Grid:Retraining:Schedule:Every 00:00:00.5000000 must be between 00:00:01 and 49.00:00:00 (leave it unset to turn the schedule off)",
            "Grid:Retraining:Schedule:Models:long 50.00:00:00 must be 00:00:00 (off) or between 00:00:01 and 49.00:00:00",
            "Grid:Retraining:Schedule:Models:negative -00:01:00 must be 00:00:00 (off) or between 00:00:01 and 49.00:00:00",
        ], result.Failures);
    }

    [Fact]
    public void A_schedule_needs_trigger_delivery_to_start_and_none_when_off()
    {
        var on = new RetrainScheduleOptions { Every = TimeSpan.FromHours(1) };
        Assert.Null(RetrainScheduleStarter.Unrunnable(on, canSend: true));
        Assert.Equal(
            "Grid:Retraining:Schedule is on, but this silo has no retraining trigger delivery (IRetrainTriggers) to send its requests through",
            RetrainScheduleStarter.Unrunnable(on, canSend: false));
        // Off, nothing is sent: a silo without trigger delivery starts.
        Assert.Null(RetrainScheduleStarter.Unrunnable(new RetrainScheduleOptions(), canSend: false));
    }

    [Fact]
    public void A_period_shorter_than_the_shortest_reminder_is_refused_naming_both_settings()
    {
        var validator = new RetrainScheduleReminderValidator(Options.Create(new ReminderOptions { MinimumReminderPeriod = TimeSpan.FromMinutes(1) }));
        var fast = new RetrainScheduleOptions { Every = TimeSpan.FromHours(1) };
        Assert.False(validator.Validate(null, fast).Failed);
        fast.Models["hot"] = TimeSpan.FromSeconds(10);
        Assert.Equal(
            ["Grid:Retraining:Schedule: the period 00:00:10 is shorter than Orleans' shortest reminder period 00:01:00 (Orleans:Reminders:MinimumReminderPeriod)"],
            validator.Validate(null, fast).Failures);
    }
}
