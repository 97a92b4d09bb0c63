using System.Threading.Channels;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>An item waiting in a <see cref="GroupCommit{T}"/>: what to write, how many rows it holds, and whom to tell.</summary>
/// <param name="Item">What to write.</param>
/// <param name="Rows">The rows it counts for, against the batch size and the bound on waiting rows.</param>
/// <param name="Done">Completed when the write that carries the item ends (null: nobody waits for it).</param>
internal sealed record QueuedWrite<T>(T Item, int Rows, TaskCompletionSource? Done);

/// <summary>What <see cref="GroupCommit{T}.TryEnqueue"/> did with an item.</summary>
internal enum Enqueued
{
    /// <summary>Queued; it is written with the next batch.</summary>
    Queued,

    /// <summary>Refused: too many rows wait already.</summary>
    Full,

    /// <summary>Refused: the writer is shutting down.</summary>
    Closed,
}

/// <summary>
/// Group commit to PostgreSQL, shared by the bar archive and the prediction log: items from every grain on the silo
/// queue up and a few writers take them in batches of up to <c>batchRows</c> rows, so one statement (one round trip,
/// one commit) carries the rows of many grains. The rows waiting (queued or being written) are bounded: an item that
/// would pass the bound is refused at once, and the caller says what that means for it (the archive refuses the
/// client's bars; the log drops the predictions). What one statement writes is the owner's <c>write</c> delegate: an
/// item it settles itself (a fenced-off append) keeps that outcome; the others succeed when it returns and fail with
/// its exception when it throws.
/// </summary>
internal sealed class GroupCommit<T> : IAsyncDisposable
{
    private readonly Channel<QueuedWrite<T>> _queue = Channel.CreateUnbounded<QueuedWrite<T>>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Func<List<QueuedWrite<T>>, int, Task> _write;
    private readonly int _batchRows;
    private readonly long _maxQueuedRows;
    private readonly Task[] _writers;
    private long _queuedRows;
    private long _refusedRows;
    private long _writes;
    private long _rows;
    private long _writeFailures;

    /// <param name="batchRows">The most rows one statement carries (an item is never split, so a larger one goes alone).</param>
    /// <param name="writers">How many statements may be in flight at once.</param>
    /// <param name="maxQueuedRows">The most rows waiting; at least <paramref name="batchRows"/>.</param>
    /// <param name="write">Writes one batch (its items and their row count) in one statement.</param>
    public GroupCommit(int batchRows, int writers, long maxQueuedRows, Func<List<QueuedWrite<T>>, int, Task> write)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueuedRows, batchRows);
        _batchRows = batchRows;
        _maxQueuedRows = maxQueuedRows;
        _write = write;
        _writers = Enumerable.Range(0, writers).Select(_ => Task.Run(WriteLoop)).ToArray();
    }

    /// <summary>Statements written so far (each one commit).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Statements that failed.</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>Rows carried by the statements written.</summary>
    public long Rows => Interlocked.Read(ref _rows);

    /// <summary>Rows waiting now (queued or being written).</summary>
    public long QueuedRows => Interlocked.Read(ref _queuedRows);

    /// <summary>Rows refused so far because too many were waiting.</summary>
    public long RefusedRows => Interlocked.Read(ref _refusedRows);

    /// <summary>The most rows that may wait.</summary>
    public long MaxQueuedRows => _maxQueuedRows;

    /// <summary>
    /// Queues <paramref name="item"/> unless its rows would take the waiting rows past the bound (an item alone in an
    /// empty queue is always taken, so one larger than the bound is not refused for ever). <paramref name="waiting"/>
    /// is the rows that waited before it, for the caller's message.
    /// </summary>
    public Enqueued TryEnqueue(QueuedWrite<T> item, out long waiting)
    {
        ArgumentNullException.ThrowIfNull(item);
        // Reserved before queuing, released when the write that holds them ends: the bound covers rows being written too.
        long queued = Interlocked.Add(ref _queuedRows, item.Rows);
        waiting = queued - item.Rows;
        if (queued > _maxQueuedRows && waiting != 0)
        {
            Interlocked.Add(ref _queuedRows, -item.Rows);
            Interlocked.Add(ref _refusedRows, item.Rows);
            return Enqueued.Full;
        }
        if (_queue.Writer.TryWrite(item))
        {
            return Enqueued.Queued;
        }
        Interlocked.Add(ref _queuedRows, -item.Rows);
        return Enqueued.Closed;
    }

    private async Task WriteLoop()
    {
        var batch = new List<QueuedWrite<T>>();
        ChannelReader<QueuedWrite<T>> reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            int rows = 0;
            while (rows < _batchRows && reader.TryRead(out QueuedWrite<T>? next))
            {
                batch.Add(next);
                rows += next.Rows;
            }
            if (batch.Count == 0)
            {
                continue;
            }
            try
            {
                await _write(batch, rows);
                Interlocked.Increment(ref _writes);
                Interlocked.Add(ref _rows, rows);
                foreach (QueuedWrite<T> written in batch)
                {
                    written.Done?.TrySetResult();
                }
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _writeFailures);
                foreach (QueuedWrite<T> failed in batch)
                {
                    failed.Done?.TrySetException(e);
                }
            }
            finally
            {
                Interlocked.Add(ref _queuedRows, -rows);
            }
        }
    }

    /// <summary>Takes no more items and returns once every queued one is written (or has failed).</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }
}
