using MarketIntel.Abstractions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Hosting;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// The retraining schedule (configuration section <c>Grid:Retraining:Schedule</c>): every model name asks for a
/// retraining job every <see cref="Every"/>, or at the period <see cref="Models"/> gives its name. Off by default.
/// </summary>
public sealed class RetrainScheduleOptions
{
    /// <summary>The configuration section a host binds these options from.</summary>
    public const string Section = "Grid:Retraining:Schedule";

    /// <summary>
    /// The longest period: an Orleans reminder's timer counts milliseconds in 32 bits (about 49.7 days), so a
    /// schedule stays within 49 days.
    /// </summary>
    public static readonly TimeSpan MaxPeriod = TimeSpan.FromDays(49);

    /// <summary>How often every model name asks for a job; unset (the default): no schedule, but for <see cref="Models"/>.</summary>
    public TimeSpan? Every { get; set; }

    /// <summary>
    /// Periods by model name (<c>Grid:Retraining:Schedule:Models:NAME</c>) in place of <see cref="Every"/>;
    /// <c>00:00:00</c> turns that name's schedule off.
    /// </summary>
    public Dictionary<string, TimeSpan> Models { get; } = new(StringComparer.Ordinal);

    /// <summary>The period model <paramref name="name"/> asks for a job at, or null when its schedule is off.</summary>
    public TimeSpan? PeriodOf(string name) =>
        Models.TryGetValue(name, out TimeSpan period) ? (period == TimeSpan.Zero ? null : period) : Every;

    /// <summary>Whether any model name has a schedule.</summary>
    public bool AnyOn => Every is not null || Models.Values.Any(p => p != TimeSpan.Zero);

    /// <summary>The shortest period in force, or null when every schedule is off.</summary>
    public TimeSpan? Shortest => Models.Values.Where(p => p != TimeSpan.Zero).Append(Every ?? TimeSpan.MaxValue).Min() is { } min && min != TimeSpan.MaxValue ? min : null;
}

/// <summary>Checks <see cref="RetrainScheduleOptions"/> at start, naming every setting at fault.</summary>
public sealed class RetrainScheduleOptionsValidator : IValidateOptions<RetrainScheduleOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, RetrainScheduleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = RetrainScheduleOptions.Section;
        var failures = new List<string>();
        if (options.Every is { } every && !InRange(every))
        {
            failures.Add($"{section}:Every {every} must be between 00:00:01 and {RetrainScheduleOptions.MaxPeriod:c} (leave it unset to turn the schedule off)");
        }
        foreach ((string model, TimeSpan period) in options.Models.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            if (period != TimeSpan.Zero && !InRange(period))
            {
                failures.Add($"{section}:Models:{model} {period} must be 00:00:00 (off) or between 00:00:01 and {RetrainScheduleOptions.MaxPeriod:c}");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool InRange(TimeSpan period) => period >= TimeSpan.FromSeconds(1) && period <= RetrainScheduleOptions.MaxPeriod;
}

/// <summary>
/// Checks <see cref="RetrainScheduleOptions"/> against Orleans' shortest reminder period
/// (<c>Orleans:Reminders:MinimumReminderPeriod</c>), which refuses a shorter reminder only once a grain asks for one.
/// </summary>
public sealed class RetrainScheduleReminderValidator(IOptions<ReminderOptions> reminders) : IValidateOptions<RetrainScheduleOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, RetrainScheduleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(reminders);
        TimeSpan minimum = reminders.Value.MinimumReminderPeriod;
        return options.Shortest is { } shortest && shortest < minimum
            ? ValidateOptionsResult.Fail($"{RetrainScheduleOptions.Section}: the period {shortest:c} is shorter than Orleans' shortest reminder period {minimum:c} (Orleans:Reminders:MinimumReminderPeriod)")
            : ValidateOptionsResult.Success;
    }
}

/// <summary>Registers the retraining schedule's options.</summary>
public static class RetrainScheduleHosting
{
    /// <summary>
    /// The schedule's options, checked at start by <see cref="RetrainScheduleOptionsValidator"/>;
    /// <paramref name="configureOptions"/> binds or sets them.
    /// </summary>
    public static IServiceCollection AddMarketIntelRetrainSchedule(this IServiceCollection services, Action<OptionsBuilder<RetrainScheduleOptions>>? configureOptions = null)
    {
        services.AddCheckedOptions(new RetrainScheduleOptionsValidator(), configureOptions);
        return services;
    }
}
