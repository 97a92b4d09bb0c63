namespace MarketIntel.Abstractions.Models;

/// <summary>
/// The retraining watch (a single grain, key 0, on a worker silo): once per <c>Grid:Retraining:Triggers:ScanEvery</c>
/// it scans every stored drift window, judges each model name's served versions' live scores and counts the new bars
/// its assets took, and asks for a job through <see cref="IRetrainTriggers"/> where one of them calls for it
/// (docs/retraining.md, "Triggers"). Each silo asks it to check every interval, naming the interval by its start; it
/// runs each interval's checks once however many silos ask.
/// </summary>
public interface IRetrainWatchGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Runs the checks of the interval that starts at <paramref name="interval"/> (Unix ms: the time rounded down to a
    /// multiple of the interval, the same on every silo) unless this interval's or a later one's ran already; then
    /// returns null. A start, not a count of intervals, so that a new interval setting never makes a later check look older.
    /// </summary>
    Task<RetrainWatchReport?> Check(long interval);
}

/// <summary>What one check of the retraining watch did.</summary>
/// <param name="Interval">The start of the interval checked (Unix ms).</param>
/// <param name="Sent">The requests it sent, one per model name at most.</param>
/// <param name="Held">Model names it sent nothing for although a trigger fired, each with why (a job is active, the check failed).</param>
[GenerateSerializer, Immutable]
public sealed record RetrainWatchReport(
    [property: Id(0)] long Interval,
    [property: Id(1)] IReadOnlyList<RetrainRequest> Sent,
    [property: Id(2)] IReadOnlyList<string> Held);
