using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace MarketIntel.Training;

/// <summary>
/// A fixed set of threads for the booster's many short parallel steps (several per tree level): the calling thread
/// and <c>threads - 1</c> workers take work items from a shared counter. Workers spin briefly between steps, since
/// the next one usually follows within microseconds, then sleep on a monitor; handing a step to the thread pool
/// cost more than some steps themselves.
/// </summary>
internal sealed class WorkerTeam : IDisposable
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000;   // 200 µs

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private readonly Action<int> _forJob;
    private Action<int>? _job;
    private Action<int, int>? _forBody;
    private int _forCount;
    private int _next;
    private int _generation;
    private int _busy;
    private Exception? _error;
    private volatile bool _stopping;

    public WorkerTeam(int threads)
    {
        Threads = Math.Max(1, threads);
        _forJob = ForJob;
        _workers = new Thread[Threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int index = i + 1;
            _workers[i] = new Thread(() => Work(index)) { IsBackground = true, Name = $"booster-{index}" };
            _workers[i].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Calls <paramref name="body"/>(item, thread) for every item in 0..count-1, items spread over the threads.</summary>
    public void For(int count, Action<int, int> body)
    {
        if (count <= 0)
        {
            return;
        }
        if (Threads == 1 || count == 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i, 0);
            }
            return;
        }
        _forBody = body;
        _forCount = count;
        _next = 0;
        Run(_forJob);
        _forBody = null;
    }

    private void ForJob(int thread)
    {
        int i;
        while ((i = Interlocked.Increment(ref _next) - 1) < _forCount)
        {
            _forBody!(i, thread);
        }
    }

    /// <summary>Runs <paramref name="job"/>(thread) once on every thread, the caller's being thread 0; returns when all are done.</summary>
    private void Run(Action<int> job)
    {
        _job = job;
        _error = null;
        Volatile.Write(ref _busy, Threads - 1);
        lock (_gate)
        {
            Interlocked.Increment(ref _generation);
            Monitor.PulseAll(_gate);
        }
        try
        {
            job(0);
        }
        finally
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _busy) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
            _job = null;
        }
        if (_error is { } error)
        {
            ExceptionDispatchInfo.Throw(error);
        }
    }

    private void Work(int index)
    {
        int seen = 0;
        while (true)
        {
            long until = Stopwatch.GetTimestamp() + SpinTicks;
            var spin = new SpinWait();
            while (Volatile.Read(ref _generation) == seen && !_stopping && Stopwatch.GetTimestamp() < until)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
            lock (_gate)
            {
                while (Volatile.Read(ref _generation) == seen && !_stopping)
                {
                    Monitor.Wait(_gate);
                }
            }
            if (_stopping)
            {
                return;
            }
            seen = Volatile.Read(ref _generation);
            try
            {
                _job!(index);
            }
            catch (Exception e)
            {
                _error = e;
            }
            finally
            {
                Interlocked.Decrement(ref _busy);
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        lock (_gate)
        {
            Monitor.PulseAll(_gate);
        }
        foreach (Thread worker in _workers)
        {
            worker.Join();
        }
    }
}
