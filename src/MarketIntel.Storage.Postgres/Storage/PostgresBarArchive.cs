using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
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
/// repeated after a crash stores nothing twice. Writers are fenced by the <c>asset_writers</c> table: each write
/// share-locks the claims of its assets and stores only the bars of appends whose epoch is not older than the
/// asset's claim, so a claim (an activation starting) waits for writes in flight and every later write by an older
/// activation is refused. The bars waiting (queued or being written) are bounded: when
/// PostgreSQL falls behind, an append beyond the bound is refused at once as UNAVAILABLE with a retry hint, so
/// memory stays bounded and clients slow down instead of piling up.
/// </summary>
public sealed class PostgresBarArchive : IBarArchive, IAsyncDisposable
{
    /// <summary>The name of the archive's meter, on which it publishes <see cref="Writes"/> and <see cref="Rows"/>.</summary>
    public const string MeterName = "MarketIntel.Archive";

    private readonly NpgsqlDataSource _database;
    private readonly GroupCommit<PendingAppend> _commit;
    private readonly SemaphoreSlim _replays;
    private long _staleAppends;

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
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrentReads, 1);
        _replays = new SemaphoreSlim(maxConcurrentReads, maxConcurrentReads);
        _database = database;
        _commit = new GroupCommit<PendingAppend>(batchRows, writers, maxQueuedRows, Write);
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
            meter.CreateObservableCounter("marketintel_archive_stale_appends_total", () => StaleAppends, unit: null,
                "Appends refused because a newer activation of their asset had claimed it (two activations overlapped)");
        }
    }

    public bool IsDurable => true;

    /// <summary>Statements written so far (each one commit).</summary>
    public long Writes => _commit.Writes;

    /// <summary>Statements that failed.</summary>
    public long WriteFailures => _commit.WriteFailures;

    /// <summary>Bars sent in those statements.</summary>
    public long Rows => _commit.Rows;

    /// <summary>Bars waiting for the archive now (queued or being written).</summary>
    public long QueuedRows => _commit.QueuedRows;

    /// <summary>Bars refused so far because too many were waiting.</summary>
    public long RefusedRows => _commit.RefusedRows;

    /// <summary>Appends refused so far because their activation had been replaced.</summary>
    public long StaleAppends => Interlocked.Read(ref _staleAppends);

    public async Task<long> Claim(string asset)
    {
        await using var command = _database.CreateCommand(
            "INSERT INTO asset_writers (asset, epoch) VALUES ($1, 1) ON CONFLICT (asset) DO UPDATE SET epoch = asset_writers.epoch + 1 RETURNING epoch");
        command.Parameters.AddWithValue(asset);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>How long a refused client is asked to wait: about one write's time when PostgreSQL is merely slow.</summary>
    public static readonly TimeSpan RetryHint = TimeSpan.FromSeconds(1);

    public Task Append(string asset, long epoch, IReadOnlyList<StoredBar> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        if (bars.Count == 0)
        {
            return Task.CompletedTask;
        }
        var pending = new QueuedWrite<PendingAppend>(new PendingAppend(asset, epoch, bars), bars.Count, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return _commit.TryEnqueue(pending, out long waiting) switch
        {
            Enqueued.Queued => pending.Done!.Task,
            Enqueued.Full => Task.FromException(new GridException(GridErrorKind.Unavailable,
                $"{asset}: the bar archive is behind PostgreSQL ({waiting} bars waiting, limit {_commit.MaxQueuedRows}: setting Postgres:ArchiveMaxQueuedRows); these {bars.Count} bars were not applied: retry in {RetryHint.TotalSeconds:0} s")
            {
                RetryAfter = RetryHint,
            }),
            _ => Task.FromException(new ObjectDisposedException(nameof(PostgresBarArchive))),
        };
    }

    public async Task<ArchiveCheckpoint?> ReadCheckpoint(string asset)
    {
        await using var command = _database.CreateCommand("SELECT through, state FROM asset_checkpoints WHERE asset = $1");
        command.Parameters.AddWithValue(asset);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? new ArchiveCheckpoint(reader.GetInt64(0), (byte[])reader.GetValue(1)) : null;
    }

    public async Task SaveCheckpoint(string asset, long epoch, long through, byte[] state)
    {
        // Forward only, and only by the asset's current writer: a replaced activation's checkpoint is dropped.
        await using var command = _database.CreateCommand("""
            INSERT INTO asset_checkpoints (asset, through, state, saved_at)
            SELECT $1, $2, $3, now() WHERE $4 >= coalesce((SELECT epoch FROM asset_writers WHERE asset = $1), 0)
            ON CONFLICT (asset) DO UPDATE SET through = excluded.through, state = excluded.state, saved_at = excluded.saved_at
            WHERE asset_checkpoints.through < excluded.through
            """);
        command.Parameters.AddWithValue(asset);
        command.Parameters.AddWithValue(through);
        command.Parameters.AddWithValue(state);
        command.Parameters.AddWithValue(epoch);
        await command.ExecuteNonQueryAsync();
    }

    public async IAsyncEnumerable<StoredBar> Read(string asset, long after = long.MinValue, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _replays.WaitAsync(cancellationToken);
        try
        {
            await foreach (StoredBar bar in ReadAll(asset, after, cancellationToken))
            {
                yield return bar;
            }
        }
        finally
        {
            _replays.Release();
        }
    }

    private async IAsyncEnumerable<StoredBar> ReadAll(string asset, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = _database.CreateCommand("SELECT ts, open, high, low, close, volume FROM bars WHERE asset = $1 AND ts > $2 ORDER BY ts");
        command.Parameters.AddWithValue(asset);
        command.Parameters.AddWithValue(after);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new StoredBar(
                reader.GetInt64(0),
                new Bar(reader.GetDouble(1), reader.GetDouble(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5)));
        }
    }

    // One group commit's statement: the batch's bars as column arrays, fenced by the claims of their assets. An append
    // an asset's newer claim refused is failed here; the others succeed when this returns.
    private async Task Write(List<QueuedWrite<PendingAppend>> batch, int rows)
    {
        var assets = new List<string>(rows);
        var epochs = new List<long>(rows);
        var timestamps = new List<long>(rows);
        var columns = new List<double>[5];
        for (int c = 0; c < columns.Length; c++)
        {
            columns[c] = new List<double>(rows);
        }
        foreach (QueuedWrite<PendingAppend> queued in batch)
        {
            PendingAppend append = queued.Item;
            foreach (StoredBar bar in append.Bars)
            {
                assets.Add(append.Asset);
                epochs.Add(append.Epoch);
                timestamps.Add(bar.Timestamp);
                columns[0].Add(bar.Bar.Open);
                columns[1].Add(bar.Bar.High);
                columns[2].Add(bar.Bar.Low);
                columns[3].Add(bar.Bar.Close);
                columns[4].Add(bar.Bar.Volume);
            }
        }
        await using var command = _database.CreateCommand(WriteFenced);
        command.Parameters.Add(new NpgsqlParameter<List<string>> { TypedValue = assets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<List<long>> { TypedValue = timestamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        foreach (var column in columns)
        {
            command.Parameters.Add(new NpgsqlParameter<List<double>> { TypedValue = column, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
        }
        command.Parameters.Add(new NpgsqlParameter<List<long>> { TypedValue = epochs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        // The statement answers with the claim of every asset that refused an older writer's bars.
        Dictionary<string, long>? claims = null;
        await using (var answer = await command.ExecuteReaderAsync())
        {
            while (await answer.ReadAsync())
            {
                (claims ??= new Dictionary<string, long>(StringComparer.Ordinal))[answer.GetString(0)] = answer.GetInt64(1);
            }
        }
        if (claims is null)
        {
            return;
        }
        foreach (QueuedWrite<PendingAppend> queued in batch)
        {
            if (claims.TryGetValue(queued.Item.Asset, out long current) && current > queued.Item.Epoch)
            {
                Interlocked.Increment(ref _staleAppends);
                queued.Done!.TrySetException(new StaleArchiveWriterException(queued.Item.Asset, queued.Item.Epoch, current));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _commit.DisposeAsync();
        _replays.Dispose();
    }

    // One statement, so one commit: the claims of the batch's assets are share-locked for its length (a claim waits
    // for it, and a claim made before it is seen by it), rows under an epoch older than their asset's claim are left
    // out, and the answer lists each such asset with its claim. An asset never claimed counts as epoch 0.
    private const string WriteFenced = """
        WITH incoming AS (
            SELECT * FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::bigint[])
                AS r(asset, ts, open, high, low, close, volume, epoch)),
        claims AS (
            SELECT asset, epoch FROM asset_writers WHERE asset = ANY($1::text[]) FOR SHARE),
        stored AS (
            INSERT INTO bars (asset, ts, open, high, low, close, volume)
            SELECT i.asset, i.ts, i.open, i.high, i.low, i.close, i.volume
            FROM incoming i LEFT JOIN claims c ON c.asset = i.asset
            WHERE i.epoch >= coalesce(c.epoch, 0)
            ON CONFLICT (asset, ts) DO NOTHING)
        SELECT DISTINCT i.asset, c.epoch FROM incoming i JOIN claims c ON c.asset = i.asset WHERE i.epoch < c.epoch
        """;

    private sealed record PendingAppend(string Asset, long Epoch, IReadOnlyList<StoredBar> Bars);
}
