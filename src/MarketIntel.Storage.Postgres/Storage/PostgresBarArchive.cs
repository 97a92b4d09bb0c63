using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using MarketIntel.Features;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using Npgsql;
using NpgsqlTypes;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>
/// The bar archive in the <c>bars</c> table, unique by asset and timestamp. Appends from every asset grain on the
/// silo queue up and are written together, up to <c>batchRows</c> rows per statement, by a few writers: one
/// round trip and one commit carry the bars of many grains (group commit), and each grain's call returns when
/// the commit that holds its bars is done. A bar stored already is skipped (ON CONFLICT DO NOTHING), so a write
/// repeated after a crash stores nothing twice. The bars waiting (queued or being written) are bounded: when
/// PostgreSQL falls behind, an append beyond the bound is refused at once as UNAVAILABLE with a retry hint, so
/// memory stays bounded and clients slow down instead of piling up.
/// </summary>
public sealed class PostgresBarArchive : IBarArchive, IAsyncDisposable
{
    /// <summary>The name of the archive's meter, on which it publishes <see cref="Writes"/> and <see cref="Rows"/>.</summary>
    public const string MeterName = "MarketIntel.Archive";

    private readonly NpgsqlDataSource _database;
    private readonly int _batchRows;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Task[] _writers;
    private readonly SemaphoreSlim _replays;
    private readonly int _maxQueuedRows;
    private long _queuedRows;
    private long _refusedRows;
    private long _writes;
    private long _rows;
    private long _writeFailures;

    /// <param name="database">The database the <c>bars</c> table is in.</param>
    /// <param name="batchRows">The most bars one write carries.</param>
    /// <param name="writers">How many writes may be in flight at once.</param>
    /// <param name="maxConcurrentReads">
    /// How many assets may read their bars at once. After a silo dies, every asset it held is reactivated at once;
    /// unbounded, their reads would take every pooled connection and stall the archive writes behind them.
    /// </param>
    /// <param name="meters">Makes the meter the archive publishes its totals on; none, and they are kept but not published.</param>
    /// <param name="maxQueuedRows">The most bars waiting for the archive; appends beyond it are refused (at least <paramref name="batchRows"/>).</param>
    public PostgresBarArchive(NpgsqlDataSource database, int batchRows, int writers, int maxConcurrentReads = 8, IMeterFactory? meters = null, int maxQueuedRows = 200_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueuedRows, batchRows);
        _maxQueuedRows = maxQueuedRows;
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrentReads, 1);
        _replays = new SemaphoreSlim(maxConcurrentReads, maxConcurrentReads);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        _database = database;
        _batchRows = batchRows;
        _writers = Enumerable.Range(0, writers).Select(_ => Task.Run(WriteLoop)).ToArray();
        if (meters is not null)
        {
            Meter meter = meters.Create(MeterName);
            meter.CreateObservableCounter("marketintel_archive_writes_total", () => Writes, unit: null,
                "Statements (each one commit) that wrote accepted bars to PostgreSQL (cluster mode)");
            meter.CreateObservableCounter("marketintel_archive_rows_total", () => Rows, unit: null,
                "Bars carried by those statements: divided by the writes, the group-commit batch size");
            meter.CreateObservableGauge("marketintel_archive_queued_rows", () => QueuedRows, unit: null,
                "Bars waiting for the archive (queued or being written); appends are refused beyond Postgres:ArchiveMaxQueuedRows");
            meter.CreateObservableCounter("marketintel_archive_refused_rows_total", () => RefusedRows, unit: null,
                "Bars refused because the archive was full (PostgreSQL behind); their clients were told to retry");
            // The archive-write-errors alert watches this: a failed statement fails every ingest call it carried.
            meter.CreateObservableCounter("marketintel_archive_write_failures_total", () => WriteFailures, unit: null,
                "Statements of accepted bars that PostgreSQL failed (cluster mode): each failed every ingest call it carried");
        }
    }

    public bool IsDurable => true;

    /// <summary>Statements written so far (each one commit).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Statements that failed.</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>Bars sent in those statements.</summary>
    public long Rows => Interlocked.Read(ref _rows);

    /// <summary>Bars waiting for the archive now (queued or being written).</summary>
    public long QueuedRows => Interlocked.Read(ref _queuedRows);

    /// <summary>Bars refused so far because too many were waiting.</summary>
    public long RefusedRows => Interlocked.Read(ref _refusedRows);

    /// <summary>How long a refused client is asked to wait: about one write's time when PostgreSQL is merely slow.</summary>
    public static readonly TimeSpan RetryHint = TimeSpan.FromSeconds(1);

    public Task Append(string asset, IReadOnlyList<StoredBar> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        if (bars.Count == 0)
        {
            return Task.CompletedTask;
        }
        // Reserved before queuing, released when the write that holds them ends: the bound covers bars being written too.
        long queued = Interlocked.Add(ref _queuedRows, bars.Count);
        if (queued > _maxQueuedRows && queued != bars.Count)
        {
            Interlocked.Add(ref _queuedRows, -bars.Count);
            Interlocked.Add(ref _refusedRows, bars.Count);
            return Task.FromException(new GridException(GridErrorKind.Unavailable,
                $"{asset}: the bar archive is behind PostgreSQL ({queued - bars.Count} bars waiting, limit {_maxQueuedRows}: setting Postgres:ArchiveMaxQueuedRows); these {bars.Count} bars were not applied: retry in {RetryHint.TotalSeconds:0} s")
            {
                RetryAfter = RetryHint,
            });
        }
        var pending = new PendingAppend(asset, bars, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (_queue.Writer.TryWrite(pending))
        {
            return pending.Done.Task;
        }
        Interlocked.Add(ref _queuedRows, -bars.Count);
        return Task.FromException(new ObjectDisposedException(nameof(PostgresBarArchive)));
    }

    public async IAsyncEnumerable<StoredBar> Read(string asset, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _replays.WaitAsync(cancellationToken);
        try
        {
            await foreach (StoredBar bar in ReadAll(asset, cancellationToken))
            {
                yield return bar;
            }
        }
        finally
        {
            _replays.Release();
        }
    }

    private async IAsyncEnumerable<StoredBar> ReadAll(string asset, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = _database.CreateCommand("SELECT ts, open, high, low, close, volume FROM bars WHERE asset = $1 ORDER BY ts");
        command.Parameters.AddWithValue(asset);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new StoredBar(
                reader.GetInt64(0),
                new Bar(reader.GetDouble(1), reader.GetDouble(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5)));
        }
    }

    private async Task WriteLoop()
    {
        var batch = new List<PendingAppend>();
        var assets = new List<string>();
        var timestamps = new List<long>();
        var columns = new List<double>[5];
        for (int c = 0; c < columns.Length; c++)
        {
            columns[c] = [];
        }
        ChannelReader<PendingAppend> reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            int rows = 0;
            while (rows < _batchRows && reader.TryRead(out PendingAppend? next))
            {
                batch.Add(next);
                rows += next.Bars.Count;
            }
            if (batch.Count == 0)
            {
                continue;
            }
            assets.Clear();
            timestamps.Clear();
            foreach (var column in columns)
            {
                column.Clear();
            }
            foreach (PendingAppend append in batch)
            {
                foreach (StoredBar bar in append.Bars)
                {
                    assets.Add(append.Asset);
                    timestamps.Add(bar.Timestamp);
                    columns[0].Add(bar.Bar.Open);
                    columns[1].Add(bar.Bar.High);
                    columns[2].Add(bar.Bar.Low);
                    columns[3].Add(bar.Bar.Close);
                    columns[4].Add(bar.Bar.Volume);
                }
            }
            try
            {
                await using var command = _database.CreateCommand(
                    "INSERT INTO bars (asset, ts, open, high, low, close, volume) " +
                    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[]) " +
                    "ON CONFLICT (asset, ts) DO NOTHING");
                command.Parameters.Add(new NpgsqlParameter<List<string>> { TypedValue = assets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<List<long>> { TypedValue = timestamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
                foreach (var column in columns)
                {
                    command.Parameters.Add(new NpgsqlParameter<List<double>> { TypedValue = column, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
                }
                await command.ExecuteNonQueryAsync();
                Interlocked.Increment(ref _writes);
                Interlocked.Add(ref _rows, rows);
                foreach (PendingAppend append in batch)
                {
                    append.Done.TrySetResult();
                }
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _writeFailures);
                foreach (PendingAppend append in batch)
                {
                    append.Done.TrySetException(e);
                }
            }
            finally
            {
                Interlocked.Add(ref _queuedRows, -rows);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
        _replays.Dispose();
    }

    private sealed record PendingAppend(string Asset, IReadOnlyList<StoredBar> Bars, TaskCompletionSource Done);
}
