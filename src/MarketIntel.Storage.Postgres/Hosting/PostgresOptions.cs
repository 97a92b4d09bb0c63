using Microsoft.Extensions.Options;

namespace MarketIntel.Storage.Postgres.Hosting;

/// <summary>How a silo uses PostgreSQL (configuration section <c>Postgres</c>).</summary>
public sealed class PostgresOptions
{
    public const string Section = "Postgres";

    /// <summary>An Npgsql connection string, e.g. <c>Host=db;Port=5432;Username=marketintel;Password=...;Database=marketintel</c>.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// The most bars one archive write carries. Concurrent appends from many asset grains are gathered into
    /// writes of up to this many rows (one round trip and one commit each), and each grain's acknowledgement
    /// waits for the write that holds its bars.
    /// </summary>
    public int ArchiveBatchRows { get; set; } = 20_000;

    /// <summary>How many archive writes may be in flight at once (each on its own connection).</summary>
    public int ArchiveWriters { get; set; } = 2;

    /// <summary>
    /// The most bars waiting for the archive (queued or being written) on one silo. When PostgreSQL falls behind,
    /// appends beyond this are refused at once as UNAVAILABLE with a retry hint, rather than queued without bound.
    /// </summary>
    public int ArchiveMaxQueuedRows { get; set; } = 200_000;

    /// <summary>
    /// How many assets may read their archived bars at once when they are activated (each read holds a pooled
    /// connection), so that a burst of reactivations after a silo loss leaves connections for the archive writes.
    /// </summary>
    public int MaxConcurrentReplays { get; set; } = 8;

    /// <summary>
    /// Whether every prediction an asset grain makes on a bar (the served version's and each shadow's) goes to the
    /// <c>prediction_log</c> table, for offline analysis and audits (<c>marketintel db predictions</c>). On, asset
    /// grains with a model predict after every bar even without subscribers.
    /// </summary>
    public bool PredictionLog { get; set; } = true;

    /// <summary>How long a prediction log row is kept after it was written; older rows are deleted by a periodic sweep.</summary>
    public TimeSpan PredictionLogRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often each silo deletes prediction log rows older than <see cref="PredictionLogRetention"/>.</summary>
    public TimeSpan PredictionLogSweepInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The most prediction log rows waiting on one silo. When PostgreSQL falls behind, a call's predictions beyond this
    /// are dropped (counted in marketintel_prediction_log_dropped_rows_total): the log never holds up ingestion.
    /// </summary>
    public int PredictionLogMaxQueuedRows { get; set; } = 200_000;

    /// <summary>The connection string with any password replaced, for logs and messages.</summary>
    public static string Redact(string connectionString)
    {
        try
        {
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            if (!string.IsNullOrEmpty(builder.Password))
            {
                builder.Password = "***";
            }
            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "(unparseable connection string)";
        }
    }
}

/// <summary>Checks <see cref="PostgresOptions"/> at start, naming every setting at fault.</summary>
public sealed class PostgresOptionsValidator : IValidateOptions<PostgresOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgresOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = PostgresOptions.Section;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add($"{section}:ConnectionString must be set in cluster mode (--postgres CONN)");
        }
        else
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException e)
            {
                failures.Add($"{section}:ConnectionString is not a valid connection string ({e.Message})");
            }
        }
        if (options.ArchiveBatchRows is < 1 or > 1_000_000)
        {
            failures.Add($"{section}:ArchiveBatchRows {options.ArchiveBatchRows} must be between 1 and 1000000");
        }
        if (options.MaxConcurrentReplays is < 1 or > 1024)
        {
            failures.Add($"{section}:MaxConcurrentReplays {options.MaxConcurrentReplays} must be between 1 and 1024");
        }
        if (options.ArchiveMaxQueuedRows < options.ArchiveBatchRows)
        {
            failures.Add($"{section}:ArchiveMaxQueuedRows {options.ArchiveMaxQueuedRows} must be at least ArchiveBatchRows ({options.ArchiveBatchRows})");
        }
        if (options.PredictionLogRetention < TimeSpan.FromMinutes(1) || options.PredictionLogRetention > TimeSpan.FromDays(36_500))
        {
            failures.Add($"{section}:PredictionLogRetention {options.PredictionLogRetention} must be between 00:01:00 and 36500.00:00:00");
        }
        if (options.PredictionLogSweepInterval < TimeSpan.FromSeconds(1) || options.PredictionLogSweepInterval > TimeSpan.FromDays(7))
        {
            failures.Add($"{section}:PredictionLogSweepInterval {options.PredictionLogSweepInterval} must be between 00:00:01 and 7.00:00:00");
        }
        if (options.PredictionLogMaxQueuedRows < options.ArchiveBatchRows)
        {
            failures.Add($"{section}:PredictionLogMaxQueuedRows {options.PredictionLogMaxQueuedRows} must be at least ArchiveBatchRows ({options.ArchiveBatchRows})");
        }
        if (options.ArchiveWriters is < 1 or > 64)
        {
            failures.Add($"{section}:ArchiveWriters {options.ArchiveWriters} must be between 1 and 64");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
