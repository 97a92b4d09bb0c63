using Microsoft.Extensions.Options;

namespace MarketIntel.Storage.Postgres.Streaming;

/// <summary>
/// How the retraining trigger stream keeps its requests in PostgreSQL in cluster mode (configuration section
/// <c>Postgres:TriggerStream</c>; the table <c>stream_messages</c>, migration 0011).
/// </summary>
public sealed class TriggerStreamOptions
{
    /// <summary>The configuration section a host binds these options from.</summary>
    public const string Section = "Postgres:TriggerStream";

    /// <summary>
    /// How long a request read by a silo stays hidden from the others until that silo confirms its delivery. A silo
    /// that dies holding requests delays them by at most this much: then the silo that takes the queue over reads them.
    /// </summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many times a request may be read before it is moved to the dead letters (a request a silo dies on each time).</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>How long a request waits for delivery before it is moved to the dead letters: a day-old trigger is stale.</summary>
    public TimeSpan ExpiryTimeout { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How long a dead letter (expired, read too often, or given up on after the delivery retries) is kept in <c>stream_dead_letters</c>.</summary>
    public TimeSpan DeadLetterRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often each silo's pulling agent reads the queue it owns: the most a request waits while nothing is wrong.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Checks <see cref="TriggerStreamOptions"/> at start, naming every setting at fault.</summary>
public sealed class TriggerStreamOptionsValidator : IValidateOptions<TriggerStreamOptions>
{
    public ValidateOptionsResult Validate(string? name, TriggerStreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = TriggerStreamOptions.Section;
        var failures = new List<string>();
        // The provider counts in whole seconds.
        if (options.VisibilityTimeout < TimeSpan.FromSeconds(1) || options.VisibilityTimeout > TimeSpan.FromHours(1))
        {
            failures.Add($"{section}:VisibilityTimeout {options.VisibilityTimeout} must be between 00:00:01 and 01:00:00");
        }
        if (options.MaxAttempts is < 1 or > 1000)
        {
            failures.Add($"{section}:MaxAttempts {options.MaxAttempts} must be between 1 and 1000");
        }
        if (options.ExpiryTimeout < options.VisibilityTimeout || options.ExpiryTimeout > TimeSpan.FromDays(30))
        {
            failures.Add($"{section}:ExpiryTimeout {options.ExpiryTimeout} must be at least VisibilityTimeout ({options.VisibilityTimeout}) and at most 30.00:00:00");
        }
        if (options.DeadLetterRetention < TimeSpan.FromMinutes(1) || options.DeadLetterRetention > TimeSpan.FromDays(365))
        {
            failures.Add($"{section}:DeadLetterRetention {options.DeadLetterRetention} must be between 00:01:00 and 365.00:00:00");
        }
        if (options.PollInterval < TimeSpan.FromMilliseconds(50) || options.PollInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{section}:PollInterval {options.PollInterval} must be between 00:00:00.050 and 00:01:00");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
