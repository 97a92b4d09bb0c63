using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using MarketIntel.Abstractions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>
/// The prediction log in the <c>prediction_log</c> table: one row per asset and bar with the served version's value and
/// each shadow's. Asset grains hand over one batch per call after their bars are archived; the batches go through the
/// same <see cref="GroupCommit{T}"/> as the bar archive's appends (one writer, one statement per batch of up to
/// <c>batchRows</c> rows), but nobody waits for them. A row stored already is skipped (ON CONFLICT DO NOTHING): two
/// overlapping activations of an asset predict from the same archived bars. The log needs no fence of its own: a
/// batch exists only after the archive's fenced append of its bars succeeded.
/// <para>
/// Failures never reach ingestion: a batch the queue has no room for is dropped at once (the queue stays bounded and the
/// grain never waits), a statement PostgreSQL fails drops its rows; both are counted and logged. Rows older than the
/// retention (by when they were logged) are deleted every sweep interval, a chunk at a time.
/// </para>
/// </summary>
public sealed partial class PostgresPredictionLog : IPredictionLog, IAsyncDisposable
{
    /// <summary>The name of the log's meter.</summary>
    public const string MeterName = "MarketIntel.PredictionLog";

    // A delete this size holds its locks briefly; the sweep repeats until nothing older is left.
    private const int DeleteChunk = 10_000;

    private static readonly TimeSpan DropWarningEvery = TimeSpan.FromMinutes(1);

    private readonly NpgsqlDataSource _database;
    private readonly GroupCommit<PredictionBatch>? _commit;  // null while the log is off
    private readonly TimeSpan _retention;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _sweeps;
    private long _failedRows;
    private long _deletedRows;
    private long _lastDropWarning;

    /// <param name="database">The database the <c>prediction_log</c> table is in.</param>
    /// <param name="enabled">
    /// Whether predictions are logged (setting Postgres:PredictionLog). Off, the retention sweep still runs, so rows
    /// from when it was on age out.
    /// </param>
    /// <param name="batchRows">The most rows one statement carries.</param>
    /// <param name="maxQueuedRows">The most rows waiting; a batch beyond it is dropped.</param>
    /// <param name="retention">How long a row is kept after it was logged.</param>
    /// <param name="sweepInterval">How often rows past the retention are deleted (the first sweep one interval after start).</param>
    /// <param name="meters">Makes the meter the log publishes its totals on; none, and they are kept but not published.</param>
    /// <param name="log">Where dropped batches are reported.</param>
    public PostgresPredictionLog(NpgsqlDataSource database, bool enabled, int batchRows, int maxQueuedRows, TimeSpan retention, TimeSpan sweepInterval,
        IMeterFactory? meters = null, ILogger<PostgresPredictionLog>? log = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(retention, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(sweepInterval, TimeSpan.Zero);
        _database = database;
        _retention = retention;
        _log = log ?? (ILogger)NullLogger.Instance;
        _commit = enabled ? new GroupCommit<PredictionBatch>(batchRows, writers: 1, maxQueuedRows, Write) : null;
        _sweeps = Task.Run(() => Sweep(sweepInterval, _stopping.Token));
        if (meters is not null)
        {
            Meter meter = meters.Create(MeterName);
            meter.CreateObservableCounter("marketintel_prediction_log_rows_total", () => Rows, unit: null,
                "Bars' predictions written to the prediction log (cluster mode), one row per asset and bar");
            meter.CreateObservableCounter("marketintel_prediction_log_writes_total", () => _commit?.Writes ?? 0, unit: null,
                "Statements (each one commit) that wrote prediction log rows");
            meter.CreateObservableGauge("marketintel_prediction_log_queued_rows", () => _commit?.QueuedRows ?? 0, unit: null,
                "Rows waiting for the prediction log; batches beyond Postgres:PredictionLogMaxQueuedRows are dropped");
            meter.CreateObservableCounter("marketintel_prediction_log_dropped_rows_total", () => DroppedRows, unit: null,
                "Rows the prediction log dropped (queue full, or PostgreSQL failed the write); ingestion went on");
            meter.CreateObservableCounter("marketintel_prediction_log_deleted_rows_total", () => DeletedRows, unit: null,
                "Rows deleted by this silo because they were older than Postgres:PredictionLogRetention");
        }
    }

    public bool IsEnabled => _commit is not null;

    /// <summary>Rows written so far.</summary>
    public long Rows => _commit?.Rows ?? 0;

    /// <summary>Rows dropped so far: refused because the queue was full, or in a statement that failed.</summary>
    public long DroppedRows => (_commit?.RefusedRows ?? 0) + Interlocked.Read(ref _failedRows);

    /// <summary>Rows this instance deleted for their age.</summary>
    public long DeletedRows => Interlocked.Read(ref _deletedRows);

    public bool Append(PredictionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_commit is null)
        {
            return false;
        }
        if (batch.Count == 0)
        {
            return true;
        }
        Enqueued result = _commit.TryEnqueue(new QueuedWrite<PredictionBatch>(batch, batch.Count, null), out long waiting);
        if (result == Enqueued.Queued)
        {
            return true;
        }
        long now = Environment.TickCount64, last = Interlocked.Read(ref _lastDropWarning);
        if ((last == 0 || now - last >= DropWarningEvery.TotalMilliseconds) && Interlocked.CompareExchange(ref _lastDropWarning, now, last) == last)
        {
            LogDropped(batch.Asset, batch.Count, waiting, _commit.MaxQueuedRows);
        }
        return false;
    }

    // One statement per batch: the rows' columns as arrays, the shadows' versions and values flattened with the
    // (1-based) row each belongs to, gathered back into one array per row in the statement.
    private async Task Write(List<QueuedWrite<PredictionBatch>> batch, int rows)
    {
        var assets = new List<string>(rows);
        var timestamps = new List<long>(rows);
        var names = new List<string>(rows);
        var servedVersions = new List<string>(rows);
        var servedValues = new List<float>(rows);
        var shadowRows = new List<int>();
        var shadowVersions = new List<string>();
        var shadowValues = new List<float>();
        foreach (QueuedWrite<PredictionBatch> queued in batch)
        {
            PredictionBatch b = queued.Item;
            int width = b.Versions.Count;
            for (int bar = 0; bar < b.Count; bar++)
            {
                assets.Add(b.Asset);
                timestamps.Add(b.Timestamps[bar]);
                names.Add(b.Name);
                servedVersions.Add(b.Versions[0]);
                servedValues.Add(b.Values[bar * width]);
                for (int v = 1; v < width; v++)
                {
                    shadowRows.Add(assets.Count);
                    shadowVersions.Add(b.Versions[v]);
                    shadowValues.Add(b.Values[bar * width + v]);
                }
            }
        }
        try
        {
            await using var command = _database.CreateCommand(Insert);
            command.Parameters.Add(new NpgsqlParameter<List<string>> { TypedValue = assets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<List<long>> { TypedValue = timestamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter<List<string>> { TypedValue = names, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<List<string>> { TypedValue = servedVersions, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<List<float>> { TypedValue = servedValues, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Real });
            command.Parameters.Add(new NpgsqlParameter<List<int>> { TypedValue = shadowRows, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter<List<string>> { TypedValue = shadowVersions, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<List<float>> { TypedValue = shadowValues, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Real });
            await command.ExecuteNonQueryAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Add(ref _failedRows, rows);
            LogWriteFailed(rows, e);
            throw;  // the group commit counts the failed statement
        }
    }

    private const string Insert = """
        WITH r AS (
            SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::real[]) WITH ORDINALITY
                AS r(asset, ts, name, version, value, n)),
        s AS (
            SELECT rn, array_agg(version ORDER BY ord) AS versions, array_agg(NULLIF(value, 'NaN'::real) ORDER BY ord) AS vals
            FROM unnest($6::integer[], $7::text[], $8::real[]) WITH ORDINALITY AS s(rn, version, value, ord)
            GROUP BY rn)
        INSERT INTO prediction_log (asset, ts, name, served_version, served_value, shadow_versions, shadow_values)
        SELECT r.asset, r.ts, r.name, r.version, NULLIF(r.value, 'NaN'::real), coalesce(s.versions, '{}'), coalesce(s.vals, '{}')
        FROM r LEFT JOIN s ON s.rn = r.n
        ON CONFLICT (asset, ts) DO NOTHING
        """;

    /// <summary>Deletes every row logged longer than the retention ago; returns how many.</summary>
    public async Task<long> DeleteExpired(CancellationToken cancellationToken = default)
    {
        long total = 0;
        while (true)
        {
            await using var command = _database.CreateCommand(
                "DELETE FROM prediction_log WHERE ctid = ANY (ARRAY (SELECT ctid FROM prediction_log WHERE logged_at < now() - $1 LIMIT $2))");
            command.Parameters.AddWithValue(_retention);
            command.Parameters.AddWithValue(DeleteChunk);
            int deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
            Interlocked.Add(ref _deletedRows, deleted);
            if (deleted < DeleteChunk)
            {
                return total;
            }
        }
    }

    // Every silo sweeps: deleting is idempotent, so several sweeping at once only repeat a cheap query.
    private async Task Sweep(TimeSpan interval, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await DeleteExpired(stopping);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogSweepFailed(e);  // tried again at the next sweep
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The logged predictions in <paramref name="database"/> of <paramref name="asset"/> for bars from <paramref name="from"/> to <paramref name="to"/>
    /// (Unix ms, both included), oldest bar first.
    /// </summary>
    public static async IAsyncEnumerable<LoggedPrediction> Read(NpgsqlDataSource database, string asset, long from = long.MinValue, long to = long.MaxValue,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(asset);
        await using var command = database.CreateCommand(
            "SELECT ts, name, served_version, served_value, shadow_versions, shadow_values, logged_at FROM prediction_log " +
            "WHERE asset = $1 AND ts BETWEEN $2 AND $3 ORDER BY ts");
        command.Parameters.AddWithValue(asset);
        command.Parameters.AddWithValue(from);
        command.Parameters.AddWithValue(to);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LoggedPrediction(asset, reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetFloat(3), reader.GetFieldValue<string[]>(4), reader.GetFieldValue<float?[]>(5),
                reader.GetFieldValue<DateTimeOffset>(6));
        }
    }

    // Disposed by both the silo's lifecycle and the service provider: the second call finds nothing left to stop
    // (and a disposed token source would throw, aborting the silo's shutdown).
    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync();
        await _sweeps;
        if (_commit is not null)
        {
            await _commit.DisposeAsync();
        }
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The prediction log is full ({Waiting} rows waiting, limit {Limit}: setting Postgres:PredictionLogMaxQueuedRows): dropped {Rows} predictions of {Asset} (reported at most once a minute; marketintel_prediction_log_dropped_rows_total counts them all)")]
    private partial void LogDropped(string asset, int rows, long waiting, long limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL failed a prediction log write: {Rows} rows dropped (their bars were archived and applied)")]
    private partial void LogWriteFailed(int rows, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The prediction log's retention sweep failed; tried again at the next sweep")]
    private partial void LogSweepFailed(Exception exception);
}

/// <summary>One row of the prediction log: what each version predicted on one bar of an asset.</summary>
/// <param name="Asset">The asset.</param>
/// <param name="Timestamp">The bar's time (Unix ms).</param>
/// <param name="Name">The model name.</param>
/// <param name="ServedVersion">The version clients got.</param>
/// <param name="ServedValue">Its prediction (null: its inputs were not ready on this bar).</param>
/// <param name="ShadowVersions">The shadows that ran.</param>
/// <param name="ShadowValues">Their predictions, in the same order (null where one made none).</param>
/// <param name="LoggedAt">When the row was written; the retention counts from here.</param>
public sealed record LoggedPrediction(string Asset, long Timestamp, string Name, string ServedVersion, float? ServedValue,
    IReadOnlyList<string> ShadowVersions, IReadOnlyList<float?> ShadowValues, DateTimeOffset LoggedAt);
