using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Grains.Retraining;

/// <summary>
/// The retraining job store on embedded defaults: the silo's memory, so a coordinator activated again on the same silo
/// carries on, but nothing outlives the process. Same rules as the <c>retrain_jobs</c> table.
/// </summary>
public sealed class InMemoryRetrainJobStore : IRetrainJobStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, RetrainJob> _jobs = new(StringComparer.Ordinal);

    public Task Save(RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        job.Check();
        // Copies of the lists a caller might change later: what is held is what was saved.
        RetrainJob copy = job with
        {
            Request = job.Request with { Assets = job.Request.Assets is { } assets ? [.. assets] : null },
            Progress = job.Progress with { Validation = job.Progress.Validation is { } scores ? new Dictionary<string, double>(scores, StringComparer.Ordinal) : null },
        };
        lock (_lock)
        {
            _jobs[job.Id] = copy;
        }
        return Task.CompletedTask;
    }

    public Task<RetrainJob?> Get(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_lock)
        {
            return Task.FromResult(_jobs.GetValueOrDefault(id));
        }
    }

    public Task<IReadOnlyList<RetrainJob>> List(string name, int limit)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<RetrainJob>>([.. _jobs.Values.Where(j => j.Request.Name == name)
                .OrderByDescending(j => j.CreatedAt).ThenByDescending(j => j.Id, StringComparer.Ordinal).Take(limit)]);
        }
    }
}
