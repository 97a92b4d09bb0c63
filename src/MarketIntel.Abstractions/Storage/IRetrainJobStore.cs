using MarketIntel.Abstractions.Models;

namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// Where retraining jobs' records are kept (docs/retraining.md): the coordinator writes a job's whole record on every
/// change, so a coordinator activated again (after its silo died) carries on from the store. In memory on embedded
/// defaults, the <c>retrain_jobs</c> table in cluster mode.
/// </summary>
public interface IRetrainJobStore
{
    /// <summary>Inserts or replaces the record of <paramref name="job"/>'s id.</summary>
    Task Save(RetrainJob job);

    /// <summary>The job's record, or null.</summary>
    Task<RetrainJob?> Get(string id);

    /// <summary>Model <paramref name="name"/>'s jobs, newest (by creation) first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<RetrainJob>> List(string name, int limit);
}
