using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using HdrHistogram;

namespace MarketIntel.LoadTest;

/// <summary>What a load test measured. Latencies are in nanoseconds.</summary>
public sealed class LoadResult
{
    public required LoadTestSettings Settings { get; init; }

    public required string Target { get; init; }

    /// <summary>Answers received in the measured window (any status), as wrk counts requests.</summary>
    public required long Requests { get; init; }

    /// <summary>Requests that failed: error answers, transport failures and timeouts.</summary>
    public required long Errors { get; init; }

    public required IReadOnlyDictionary<string, long> ErrorsByKind { get; init; }

    /// <summary>Predictions carried by successful answers (the batch size per PredictBatch call).</summary>
    public required long Predictions { get; init; }

    /// <summary>Seconds from the end of the warm-up to the last measured answer.</summary>
    public required double Seconds { get; init; }

    /// <summary>Answer latency: from the send (closed loop) or from the scheduled send time (open loop).</summary>
    public required HistogramBase Latency { get; init; }

    /// <summary>Open loop only: how late requests went out after their scheduled time (queueing in the client).</summary>
    public HistogramBase? SendLag { get; init; }

    public double Throughput => Seconds > 0 ? Requests / Seconds : 0;

    public static double Ms(long nanoseconds) => nanoseconds / 1e6;

    public double PercentileMs(double percentile) => Latency.TotalCount == 0 ? 0 : Ms(Latency.GetValueAtPercentile(percentile));

    public double MaxMs => Latency.TotalCount == 0 ? 0 : Ms(Latency.GetMaxValue());

    public double MeanMs => Latency.TotalCount == 0 ? 0 : Latency.GetMean() / 1e6;
}

/// <summary>One line of live progress, once a second.</summary>
public readonly record struct ProgressSample(double ElapsedSeconds, bool WarmingUp, double RequestsPerSecond, double IntervalP99Ms, long Errors);

/// <summary>
/// Runs a load test with one worker per connection (per stream with <c>--streams</c>), each with one request in
/// flight. Closed loop: each worker sends its next request as soon as the previous answer arrives.
/// Open loop: a pacer releases requests on a fixed schedule (request i is due at start + i / rate) and any free
/// worker sends it; latency counts from the due time, so when the target stalls, every request that should
/// have gone out during the stall is charged the wait it would have seen (no coordinated omission).
/// </summary>
public static partial class LoadRunner
{
    private const long HighestNanoseconds = 3_600_000_000_000;

    private static readonly double NanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    public static async Task<LoadResult> RunAsync(LoadTestSettings settings, ILoadTarget target, Action<ProgressSample>? progress, CancellationToken cancellationToken)
    {
        var run = new Run(settings);
        var picker = new AssetPicker(settings.Assets, settings.Zipf);
        long start = Stopwatch.GetTimestamp();
        long warmupTicks = Ticks(settings.Warmup);
        long measureStart, end;
        Task[] workers;
        Thread? pacer = null;
        if (settings.Rate is { } rate)
        {
            double period = Stopwatch.Frequency / rate;
            long warmupCount = (long)Math.Ceiling(warmupTicks / period);
            measureStart = start + (long)(warmupCount * period);
            end = settings.Requests is { } n ? start + (long)((warmupCount + n) * period) : measureStart + Ticks(settings.Duration);
            var due = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleWriter = true });
            pacer = new Thread(() => Pace(due.Writer, start, period, end, cancellationToken)) { IsBackground = true, Name = "loadtest pacer", Priority = ThreadPriority.AboveNormal };
            workers = Enumerable.Range(0, settings.Workers).Select(w => Task.Run(() => OpenLoopWorker(run, target, picker, w, due.Reader, measureStart, cancellationToken))).ToArray();
            pacer.Start();
        }
        else
        {
            measureStart = start + warmupTicks;
            end = settings.Requests is null ? measureStart + Ticks(settings.Duration) : long.MaxValue;
            run.Remaining = settings.Requests ?? long.MaxValue;
            workers = Enumerable.Range(0, settings.Workers).Select(w => Task.Run(() => ClosedLoopWorker(run, target, picker, w, measureStart, end, cancellationToken))).ToArray();
        }

        Task all = Task.WhenAll(workers);
        var total = new LongHistogram(HighestNanoseconds, 3);
        long lastCompleted = 0;
        long lastTick = start;
        while (!all.IsCompleted)
        {
            await Task.WhenAny(all, Task.Delay(1000, CancellationToken.None));
            if (progress is null || all.IsCompleted)
            {
                continue;
            }
            HistogramBase interval = run.Latency.GetIntervalHistogram();
            total.Add(interval);
            long now = Stopwatch.GetTimestamp();
            long completed = Interlocked.Read(ref run.CompletedAll);
            progress(new ProgressSample(
                (now - start) / (double)Stopwatch.Frequency,
                now < measureStart,
                (completed - lastCompleted) / ((now - lastTick) / (double)Stopwatch.Frequency),
                interval.TotalCount == 0 ? double.NaN : LoadResult.Ms(interval.GetValueAtPercentile(99)),
                Interlocked.Read(ref run.ErrorCount)));
            lastCompleted = completed;
            lastTick = now;
        }
        await all;
        pacer?.Join();
        total.Add(run.Latency.GetIntervalHistogram());
        long last = Interlocked.Read(ref run.LastAnswer);
        if (settings.IsOpenLoop && !cancellationToken.IsCancellationRequested)
        {
            // The schedule spans N periods, not N - 1: the window runs to the end of the schedule at least.
            last = Math.Max(last, end);
        }
        return new LoadResult
        {
            Settings = settings,
            Target = target.Description,
            Requests = Interlocked.Read(ref run.Answers),
            Errors = Interlocked.Read(ref run.ErrorCount),
            ErrorsByKind = new SortedDictionary<string, long>(run.Errors, StringComparer.Ordinal),
            Predictions = Interlocked.Read(ref run.Predictions),
            Seconds = last > measureStart ? (last - measureStart) / (double)Stopwatch.Frequency : 0,
            Latency = total,
            SendLag = settings.IsOpenLoop ? run.SendLag.GetIntervalHistogram() : null,
        };
    }

    /// <summary>Sends one request on a fresh connection; a target that does not answer at all stops the test before it starts.</summary>
    public static async Task PreflightAsync(ILoadTarget target, LoadTestSettings settings, CancellationToken cancellationToken)
    {
        await using ILoadConnection connection = target.Connect(-1);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(settings.Timeout);
        Outcome outcome = await connection.SendAsync(new AssetPicker(settings.Assets, settings.Zipf), new Random(settings.Seed), timeout.Token);
        cancellationToken.ThrowIfCancellationRequested();
        if (!outcome.Responded)
        {
            throw new LoadTestException($"{target.Description}: no answer to a first request: {outcome.Error}");
        }
    }

    private static async Task ClosedLoopWorker(Run run, ILoadTarget target, AssetPicker picker, int worker, long measureStart, long end, CancellationToken cancellationToken)
    {
        await using ILoadConnection connection = target.Connect(worker);
        var random = new Random(unchecked(run.Settings.Seed * 1_000_003 + worker));
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                long sent = Stopwatch.GetTimestamp();
                if (sent >= end)
                {
                    break;
                }
                bool measured = sent >= measureStart;
                if (measured && Interlocked.Decrement(ref run.Remaining) < 0)
                {
                    break;
                }
                deadline = Arm(deadline, run.Settings.Timeout, cancellationToken);
                Outcome outcome = await connection.SendAsync(picker, random, deadline.Token);
                long answered = Stopwatch.GetTimestamp();
                if (cancellationToken.IsCancellationRequested)
                {
                    break;   // stopped (Ctrl+C): a call cut short is not a failure of the target
                }
                run.Completed(outcome, measured, answered - sent, answered);
            }
        }
        finally
        {
            deadline.Dispose();
        }
    }

    private static async Task OpenLoopWorker(Run run, ILoadTarget target, AssetPicker picker, int worker, ChannelReader<long> due, long measureStart, CancellationToken cancellationToken)
    {
        await using ILoadConnection connection = target.Connect(worker);
        var random = new Random(unchecked(run.Settings.Seed * 1_000_003 + worker));
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long timeoutTicks = Ticks(run.Settings.Timeout);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // ReadAsync hands each due time to one waiting worker (WaitToReadAsync would wake them all).
                long scheduled;
                try
                {
                    scheduled = await due.ReadAsync(cancellationToken);
                }
                catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
                {
                    break;
                }
                bool measured = scheduled >= measureStart;
                long sent = Stopwatch.GetTimestamp();
                long late = Math.Max(0, sent - scheduled);
                if (late >= timeoutTicks)
                {
                    // Queued behind busy connections past its timeout: never sent, and a failure.
                    run.Completed(Outcome.Failed("not sent within --timeout (behind schedule)"), measured, 0, sent);
                    continue;
                }
                if (measured)
                {
                    run.SendLag.RecordValue(Math.Min(HighestNanoseconds, (long)(late * NanosecondsPerTick)));
                }
                deadline = Arm(deadline, TimeSpan.FromTicks((long)((timeoutTicks - late) * (TimeSpan.TicksPerSecond / (double)Stopwatch.Frequency))), cancellationToken);
                Outcome outcome = await connection.SendAsync(picker, random, deadline.Token);
                long answered = Stopwatch.GetTimestamp();
                if (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                // From the due time, not the send: waiting for a free connection is part of what a caller sees.
                run.Completed(outcome, measured, answered - Math.Min(scheduled, sent), answered);
            }
        }
        finally
        {
            deadline.Dispose();
        }
    }

    /// <summary>Releases request due times on schedule. Sleeps precisely (microseconds) so sends are neither early nor bunched.</summary>
    private static void Pace(ChannelWriter<long> writer, long start, double period, long end, CancellationToken cancellationToken)
    {
        for (long i = 0; !cancellationToken.IsCancellationRequested; i++)
        {
            long due = start + (long)(i * period);
            if (due >= end)
            {
                break;
            }
            // One sleep is capped (and may end early), so sleep until the due time has really come.
            long wait;
            while ((wait = due - Stopwatch.GetTimestamp()) > 0 && !cancellationToken.IsCancellationRequested)
            {
                SleepTicks(wait);
            }
            writer.TryWrite(due);
        }
        writer.Complete();
    }

    // usleep is called through libc by name, which only Linux is sure to resolve (Windows has no libc; macOS keeps
    // its C library in libSystem): elsewhere, and should the call fail, the pacer sleeps portably.
    private static bool s_usleep = OperatingSystem.IsLinux();

    private static void SleepTicks(long ticks)
    {
        long microseconds = (long)(ticks * NanosecondsPerTick / 1000);
        if (microseconds < 20)
        {
            // Closer than a sleep can resolve: a short spin.
            Spin(ticks);
            return;
        }
        if (s_usleep)
        {
            try
            {
                // Thread.Sleep has millisecond resolution; usleep wakes within tens of microseconds.
                _ = USleep((uint)Math.Min(microseconds, 100_000));
                return;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                s_usleep = false;
            }
        }
        SleepPortably(ticks);
    }

    /// <summary>
    /// Waits about <paramref name="ticks"/> (at most 100 ms) without usleep. Thread.Sleep only sleeps whole
    /// milliseconds, and longer than asked (a timer tick, 15.6 ms by default on Windows): it sleeps while more than
    /// two milliseconds remain, and the rest is yielded away, so requests are not bunched at the next timer tick.
    /// </summary>
    internal static void SleepPortably(long ticks)
    {
        long until = Stopwatch.GetTimestamp() + Math.Min(ticks, Ticks(TimeSpan.FromMilliseconds(100)));
        long left;
        while ((left = until - Stopwatch.GetTimestamp()) > 0)
        {
            long milliseconds = (long)(left * NanosecondsPerTick / 1e6);
            if (milliseconds > 2)
            {
                Thread.Sleep((int)(milliseconds - 2));
            }
            else if (!Thread.Yield())
            {
                Thread.SpinWait(20);
            }
        }
    }

    private static void Spin(long ticks)
    {
        long until = Stopwatch.GetTimestamp() + ticks;
        while (Stopwatch.GetTimestamp() < until)
        {
            Thread.SpinWait(20);
        }
    }

    [LibraryImport("libc", EntryPoint = "usleep")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int USleep(uint microseconds);

    /// <summary>The source of a request's token: cancelled after <paramref name="timeout"/> or when the run is stopped.</summary>
    private static CancellationTokenSource Arm(CancellationTokenSource deadline, TimeSpan timeout, CancellationToken stop)
    {
        if (!deadline.TryReset())
        {
            deadline.Dispose();
            deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
        }
        deadline.CancelAfter(timeout);
        return deadline;
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>The counters and histograms every worker records into.</summary>
    private sealed class Run(LoadTestSettings settings)
    {
        public readonly LoadTestSettings Settings = settings;
        public readonly Recorder Latency = NewRecorder();
        public readonly Recorder SendLag = NewRecorder();
        public readonly ConcurrentDictionary<string, long> Errors = new(StringComparer.Ordinal);
        public long Remaining;
        public long CompletedAll;
        public long Answers;
        public long ErrorCount;
        public long Predictions;
        public long LastAnswer;

        public void Completed(Outcome outcome, bool measured, long elapsedTicks, long at)
        {
            Interlocked.Increment(ref CompletedAll);
            if (!measured)
            {
                return;
            }
            if (outcome.Responded)
            {
                Latency.RecordValue(Math.Clamp((long)(elapsedTicks * NanosecondsPerTick), 1, HighestNanoseconds));
                Interlocked.Increment(ref Answers);
            }
            if (outcome.Error is { } error)
            {
                Interlocked.Increment(ref ErrorCount);
                Errors.AddOrUpdate(error, 1, static (_, n) => n + 1);
            }
            if (outcome.Predictions > 0)
            {
                Interlocked.Add(ref Predictions, outcome.Predictions);
            }
            if (!outcome.Responded)
            {
                return;   // the window runs to the last answer: a timeout does not stretch it
            }
            long last;
            while ((last = Interlocked.Read(ref LastAnswer)) < at && Interlocked.CompareExchange(ref LastAnswer, at, last) != last)
            {
            }
        }

        private static Recorder NewRecorder() =>
            new(1, HighestNanoseconds, 3, static (id, low, high, digits) => new LongConcurrentHistogram(id, low, high, digits));
    }
}
