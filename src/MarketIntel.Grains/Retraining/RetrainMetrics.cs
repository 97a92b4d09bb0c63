using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Grains.Retraining;

/// <summary>
/// This silo's retraining jobs, as the coordinators on it see them: how many were accepted by trigger and reached each
/// end state by trigger, how long the ended ones took in all, how many are active now and how old the oldest of them is, and
/// when each model name's newest job began. Coordinators live on serving silos, so cluster-wide figures are sums (or
/// maxima) over those in PromQL.
/// </summary>
public sealed class RetrainMetrics
{
    /// <summary>The meter the retraining instruments are on.</summary>
    public const string MeterName = "MarketIntel.Retraining";

    private static readonly RetrainJobState[] EndStates =
        [RetrainJobState.Registered, RetrainJobState.Promoted, RetrainJobState.Rejected, RetrainJobState.Failed, RetrainJobState.Cancelled];

    // The end states of a job's own work; promoted and rejected are the gate's later decision on a registered one.
    private static readonly RetrainJobState[] WorkEndStates = [RetrainJobState.Registered, RetrainJobState.Failed, RetrainJobState.Cancelled];

    private readonly Dictionary<RetrainTrigger, Count> _started = [];
    private readonly Dictionary<(RetrainTrigger Trigger, RetrainJobState State), Count> _ended = [];
    // Milliseconds from acceptance to the end, summed per end state of the job's own work. A total rather than a
    // histogram: jobs are rare, and a histogram's series appear at their first job, which rate() then never sees.
    private readonly Dictionary<RetrainJobState, Count> _milliseconds = [];
    // Per model name whose coordinator is on this silo: its newest job's acceptance time (Unix ms) and whether it is active.
    private readonly ConcurrentDictionary<string, Newest> _newest = new(StringComparer.Ordinal);

    /// <summary>Creates the instruments on the silo's meter factory.</summary>
    public RetrainMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        // Every series exists from the start at 0, so that rate() and increase() count a silo's first job of each kind:
        // a counter series that first appears at 1 is read as having been 1 all along.
        foreach (RetrainTrigger trigger in Enum.GetValues<RetrainTrigger>())
        {
            _started[trigger] = new Count([new("trigger", RetrainText.Name(trigger))]);
            foreach (RetrainJobState state in EndStates)
            {
                _ended[(trigger, state)] = new Count([new("trigger", RetrainText.Name(trigger)), new("state", RetrainText.Name(state))]);
            }
        }
        foreach (RetrainJobState state in WorkEndStates)
        {
            _milliseconds[state] = new Count([new("state", RetrainText.Name(state))]);
        }
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableCounter("marketintel_retrain_jobs_started_total", () => _started.Values.Select(c => c.Measure()), unit: null,
            "Retraining jobs accepted by the coordinators on this silo, by trigger");
        meter.CreateObservableCounter("marketintel_retrain_jobs_total", () => _ended.Values.Select(c => c.Measure()),
            unit: null, "Retraining jobs that reached an end state (registered, then promoted or rejected; failed; cancelled), by trigger and state");
        meter.CreateObservableCounter("marketintel_retrain_job_seconds_total", () => _milliseconds.Values.Select(c => c.Measure(1000.0)), "s",
            "Time from retraining jobs' acceptance to their end (registered, failed or cancelled), waiting for a worker included, summed by state; divide by marketintel_retrain_jobs_total for the mean");
        meter.CreateObservableGauge("marketintel_retrain_jobs_active", () => (long)_newest.Values.Count(n => n.Active), unit: null,
            "Retraining jobs waiting for a worker or running, held by the coordinators on this silo");
        meter.CreateObservableGauge("marketintel_retrain_jobs_active_oldest_seconds", OldestActiveSeconds, "s",
            "Age of the oldest retraining job waiting or running on this silo's coordinators, from its acceptance; 0 with none");
        meter.CreateObservableGauge("marketintel_retrain_last_job_start_time_seconds", () => _newest.Values.Select(n => new Measurement<double>(n.StartedAt / 1000.0, n.Tags)),
            "s", "When the newest retraining job of each model name whose coordinator is active on this silo was accepted (Unix seconds)");
    }

    /// <summary>Counts a job of <paramref name="trigger"/> accepted.</summary>
    public void Started(RetrainTrigger trigger) => Interlocked.Increment(ref _started[trigger].Value);

    /// <summary>
    /// Counts <paramref name="job"/> reaching its state, an end state; for those that end the job's own work (registered,
    /// failed, cancelled), adds its time from acceptance. Promoted and rejected follow registered on the gate's decision.
    /// </summary>
    public void Reached(RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        Interlocked.Increment(ref _ended[(job.Request.Trigger, job.State)].Value);
        if (_milliseconds.TryGetValue(job.State, out Count? time))
        {
            Interlocked.Add(ref time.Value, Math.Max(0, (job.FinishedAt ?? job.UpdatedAt) - job.CreatedAt));
        }
    }

    /// <summary>Holds <paramref name="newest"/> as model <paramref name="name"/>'s newest job, active or not.</summary>
    public void Holds(string name, RetrainJob newest)
    {
        ArgumentNullException.ThrowIfNull(newest);
        _newest.AddOrUpdate(name, static (n, job) => new Newest(n, job.CreatedAt, job.IsActive),
            static (_, held, job) => held.StartedAt == job.CreatedAt && held.Active == job.IsActive ? held : held with { StartedAt = job.CreatedAt, Active = job.IsActive }, newest);
    }

    /// <summary>Forgets model <paramref name="name"/>: its coordinator left this silo.</summary>
    public void Released(string name) => _newest.TryRemove(name, out _);

    /// <summary>How many jobs are active on this silo now.</summary>
    public int ActiveJobs => _newest.Values.Count(n => n.Active);

    private double OldestActiveSeconds()
    {
        long oldest = long.MaxValue;
        foreach (Newest held in _newest.Values)
        {
            if (held.Active && held.StartedAt < oldest)
            {
                oldest = held.StartedAt;
            }
        }
        return oldest == long.MaxValue ? 0 : Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - oldest) / 1000.0;
    }

    // The tags are made once per series, so the exporter recognises the series by reference.
    private sealed class Count(KeyValuePair<string, object?>[] tags)
    {
        public long Value;

        public Measurement<long> Measure() => new(Interlocked.Read(ref Value), tags);

        public Measurement<double> Measure(double per) => new(Interlocked.Read(ref Value) / per, tags);
    }

    private sealed record Newest(string Name, long StartedAt, bool Active)
    {
        public KeyValuePair<string, object?>[] Tags { get; } = [new("model", Name)];
    }
}
