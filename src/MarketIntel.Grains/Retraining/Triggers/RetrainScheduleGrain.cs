using System.Globalization;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// The retraining schedule of one model name (key: the name). It keeps one Orleans reminder at the period
/// <c>Grid:Retraining:Schedule</c> gives the name (durable in PostgreSQL in cluster mode, so it outlives any silo)
/// and on each tick asks for a job through <see cref="IRetrainTriggers"/>; the coordinator debounces and the job waits
/// for a worker. The grid starts every registered name's schedule (<see cref="RetrainScheduleStarter"/>), and the model
/// registry a new name's.
/// </summary>
public interface IRetrainScheduleGrain : IGrainWithStringKey
{
    /// <summary>
    /// Brings the reminder in line with the settings: registers it, replaces one of another period, or unregisters it
    /// when the name's schedule is off. Returns the period in force, or null when off.
    /// </summary>
    Task<TimeSpan?> Apply();
}

/// <summary>
/// <see cref="IRetrainScheduleGrain"/>: on serving silos, since it only asks for a job; asking needs no worker.
/// </summary>
[ServingPlacement]
public sealed partial class RetrainScheduleGrain(IOptions<RetrainScheduleOptions> options, IServiceProvider services, ILogger<RetrainScheduleGrain> log)
    : Grain, IRetrainScheduleGrain, IRemindable
{
    /// <summary>Who a scheduled request comes from, as the job and the audit log name it.</summary>
    public const string Client = "schedule";

    private const string ReminderPrefix = "retrain every ";

    private string Name => this.GetPrimaryKeyString();

    /// <summary>The reminder of a period is named after it, so a period that changed is told apart without a read of the table.</summary>
    public static string ReminderOf(TimeSpan period) => ReminderPrefix + period.ToString("c", CultureInfo.InvariantCulture);

    public async Task<TimeSpan?> Apply()
    {
        TimeSpan? period = options.Value.PeriodOf(Name);
        string? wanted = period is { } every ? ReminderOf(every) : null;
        foreach (IGrainReminder reminder in await this.GetReminders())
        {
            if (reminder.ReminderName != wanted)
            {
                await this.UnregisterReminder(reminder);
                LogStopped(Name, reminder.ReminderName);
            }
        }
        // A reminder already at this period keeps its phase: registering it again at every grid start would push the
        // next tick back by a whole period each time a silo restarts.
        if (wanted is not null && await this.GetReminder(wanted) is null)
        {
            await this.RegisterOrUpdateReminder(wanted, period!.Value, period.Value);
            LogStarted(Name, period.Value);
        }
        return period;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        TimeSpan? period = options.Value.PeriodOf(Name);
        if (period is not { } every || reminderName != ReminderOf(every))
        {
            // The settings changed since the reminder was registered (a restart with another period, or off).
            await Apply();
            return;
        }
        var request = new RetrainRequest(Name, RetrainTrigger.Schedule, $"schedule: every {every.ToString("c", CultureInfo.InvariantCulture)}", Client);
        try
        {
            await services.GetRequiredService<IRetrainTriggers>().Send(request);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogSendFailed(e, Name);  // the next tick asks again
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retraining schedule of model {Name}: a job every {Period}")]
    private partial void LogStarted(string name, TimeSpan period);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retraining schedule of model {Name}: reminder '{Reminder}' unregistered (the schedule is off or its period changed)")]
    private partial void LogStopped(string name, string reminder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retraining schedule of model {Name}: the request for a job could not be sent; the next tick asks again")]
    private partial void LogSendFailed(Exception exception, string name);
}
