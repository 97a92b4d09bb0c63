using Orleans.Concurrency;

namespace MarketIntel.Abstractions.Models;

// Automated retraining (docs/retraining.md): a trigger asks the model name's coordinator for a job; the coordinator
// (on a serving silo) debounces, keeps the job's record and hands the job to a job grain on a worker silo; the job
// reads the archive, validates walk-forward, trains, registers the challenger with its lineage and profile and puts
// it in shadow, where the promotion gate takes over.

/// <summary>What asked for a retraining job.</summary>
public enum RetrainTrigger
{
    /// <summary>A person or a script: <c>marketintel retrain NAME</c>, gRPC or HTTP.</summary>
    Manual,

    /// <summary>The model's retraining schedule (an Orleans reminder).</summary>
    Schedule,

    /// <summary>A drift alarm on an asset the model serves.</summary>
    Drift,

    /// <summary>The served version's live score fell below its threshold.</summary>
    ScoreDecay,

    /// <summary>Enough new bars arrived since the last job.</summary>
    BarVolume,
}

/// <summary>Where a retraining job is. <see cref="Waiting"/> and <see cref="Running"/> are active; the rest are final.</summary>
public enum RetrainJobState
{
    /// <summary>Accepted; not yet on a worker (none in the cluster, or one is being found). <see cref="RetrainJob.Detail"/> says why.</summary>
    Waiting,

    /// <summary>On a worker: reading bars, validating, training or registering.</summary>
    Running,

    /// <summary>The challenger is registered and in shadow; the promotion gate decides.</summary>
    Registered,

    /// <summary>The gate promoted the challenger.</summary>
    Promoted,

    /// <summary>The gate refused the challenger (the decision is in the audit log).</summary>
    Rejected,

    /// <summary>The job stopped on an error; <see cref="RetrainJob.Detail"/> says which.</summary>
    Failed,

    /// <summary>Cancelled by a client.</summary>
    Cancelled,
}

/// <summary>
/// A request to retrain model <paramref name="Name"/>: what asked (<paramref name="Trigger"/>), why in words
/// (<paramref name="Reason"/>, e.g. "MSFT: 3 of 8 series drifting"), and who (<paramref name="Client"/>, as in the audit log).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RetrainRequest(
    [property: Id(0)] string Name,
    [property: Id(1)] RetrainTrigger Trigger,
    [property: Id(2)] string Reason,
    [property: Id(3)] string Client)
{
    /// <summary>The assets whose archived bars to train on; null: the served version's lineage's assets, with <see cref="TriggerAssets"/>.</summary>
    [Id(4)]
    public IReadOnlyList<string>? Assets { get; init; }

    /// <summary>
    /// The assets the trigger saw (the drifting ones), trained on besides the lineage's when <see cref="Assets"/> is
    /// null: an alarm raised before its asset's drift window reached the store still names the asset.
    /// </summary>
    [Id(8)]
    public IReadOnlyList<string>? TriggerAssets { get; init; }

    /// <summary>A feature spec to train with instead of the served version's.</summary>
    [Id(5)]
    public string? Spec { get; init; }

    /// <summary>A label (<c>up_K</c>, <c>logret_K</c>) to train for instead of the served version's.</summary>
    [Id(6)]
    public string? Label { get; init; }

    /// <summary>Start even within the minimum interval after the last job (a manual request only; one job per model still).</summary>
    [Id(7)]
    public bool Force { get; init; }

    /// <summary>Equal requests ask for the same thing: the asset lists compare by their names, in order, not as references
    /// (a request that went through a stream or a store comes back with lists of its own).</summary>
    public bool Equals(RetrainRequest? other) =>
        other is not null && Name == other.Name && Trigger == other.Trigger && Reason == other.Reason && Client == other.Client
        && Same(Assets, other.Assets) && Same(TriggerAssets, other.TriggerAssets) && Spec == other.Spec && Label == other.Label && Force == other.Force;

    public override int GetHashCode() => HashCode.Combine(Name, Trigger, Reason, Client, Spec, Label, Force);

    private static bool Same(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        a is null ? b is null : b is not null && a.SequenceEqual(b, StringComparer.Ordinal);
}

/// <summary>How far a job has got.</summary>
/// <param name="BarsRead">Archived bars read, over all assets.</param>
/// <param name="Rows">Training rows built from them.</param>
/// <param name="FoldsDone">Walk-forward folds validated.</param>
/// <param name="Folds">Walk-forward folds in all (0 until known).</param>
/// <param name="RoundsDone">Boosting rounds of the final model done.</param>
/// <param name="Rounds">Boosting rounds in all (0 until known).</param>
/// <param name="Validation">The walk-forward's scores by name (accuracy, AUC, log loss, ...), once measured.</param>
[GenerateSerializer, Immutable]
public sealed record RetrainProgress(
    [property: Id(0)] long BarsRead,
    [property: Id(1)] int Rows,
    [property: Id(2)] int FoldsDone,
    [property: Id(3)] int Folds,
    [property: Id(4)] int RoundsDone,
    [property: Id(5)] int Rounds,
    [property: Id(6)] IReadOnlyDictionary<string, double>? Validation)
{
    /// <summary>Nothing done yet.</summary>
    public static RetrainProgress None { get; } = new(0, 0, 0, 0, 0, 0, null);
}

/// <summary>
/// A retraining job's record, as the coordinator keeps it and the API shows it.
/// </summary>
/// <param name="Id">The job id: unique, and what makes a retried job register at most one version.</param>
/// <param name="Request">What asked for it.</param>
/// <param name="State">Where it is.</param>
/// <param name="Detail">What it is doing, waits for (e.g. "no worker silo in the cluster"), or why it failed.</param>
/// <param name="Progress">How far it has got.</param>
/// <param name="BaseVersion">The version served when the job started (the one the challenger would replace), or null.</param>
/// <param name="Version">The registered challenger's version, once registered.</param>
/// <param name="Attempt">How many times a worker started the job (above 1 after a worker died under it).</param>
/// <param name="Worker">The silo running it (or that last ran it), or null.</param>
/// <param name="Through">The newest bar time (Unix ms) the job trains on: fixed when the job starts, so a retry reads the same bars.</param>
/// <param name="CreatedAt">When it was accepted (Unix ms).</param>
/// <param name="UpdatedAt">When its record last changed (Unix ms).</param>
/// <param name="FinishedAt">When it reached a final state (Unix ms), or null.</param>
[GenerateSerializer, Immutable]
public sealed record RetrainJob(
    [property: Id(0)] string Id,
    [property: Id(1)] RetrainRequest Request,
    [property: Id(2)] RetrainJobState State,
    [property: Id(3)] string Detail,
    [property: Id(4)] RetrainProgress Progress,
    [property: Id(5)] string? BaseVersion,
    [property: Id(6)] string? Version,
    [property: Id(7)] int Attempt,
    [property: Id(8)] string? Worker,
    [property: Id(9)] long Through,
    [property: Id(10)] long CreatedAt,
    [property: Id(11)] long UpdatedAt,
    [property: Id(12)] long? FinishedAt)
{
    /// <summary>Whether the job still counts as the model's one job at a time (waiting or running).</summary>
    public bool IsActive => State is RetrainJobState.Waiting or RetrainJobState.Running;

    /// <summary>Checks that the record describes a job, as stores do before they keep one.</summary>
    /// <exception cref="ArgumentException">The message names the job and the field at fault.</exception>
    public void Check()
    {
        if (string.IsNullOrWhiteSpace(Id))
        {
            throw new ArgumentException("a retraining job's record needs an id");
        }
        if (Request is null || string.IsNullOrWhiteSpace(Request.Name))
        {
            throw new ArgumentException($"retraining job {Id}: its record needs the request with the model's name");
        }
        if (Detail is null || Progress is null)
        {
            throw new ArgumentException($"retraining job {Id}: its record needs a detail and a progress (empty ones will do)");
        }
        if (!Enum.IsDefined(State) || !Enum.IsDefined(Request.Trigger))
        {
            throw new ArgumentException($"retraining job {Id}: state {(int)State} or trigger {(int)Request.Trigger} is not one of the known ones");
        }
        if (Attempt < 0)
        {
            throw new ArgumentException($"retraining job {Id}: attempt {Attempt} must not be negative");
        }
    }
}

/// <summary>
/// The answer to a retraining request: the job it started, or, when the debounce held it back, why not and the job
/// that holds it back (the active one), if any.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RetrainStart(
    [property: Id(0)] bool Started,
    [property: Id(1)] RetrainJob? Job,
    [property: Id(2)] string Reason);

/// <summary>
/// The retraining coordinator of one model name (key: the name). Every trigger asks it for a job; it allows one
/// active job per model and a minimum interval between jobs (<c>Grid:Retraining:MinimumInterval</c>), keeps every
/// job's record in the job store, hands a job to a <see cref="IRetrainJobGrain"/> on a worker silo and, while the job
/// is active, checks on it, so a job whose worker died is started again on another. Lives on serving silos, so it
/// answers when no worker is up and says that the job waits.
/// </summary>
public interface IRetrainCoordinatorGrain : IGrainWithStringKey
{
    /// <summary>Starts a job unless one is active or the last began within the minimum interval (unless forced).</summary>
    Task<RetrainStart> Request(RetrainRequest request);

    /// <summary>
    /// The model's jobs, newest first, at most <paramref name="limit"/>. A read: it never waits for the coordinator's
    /// check of a worker (a call to a worker that just died waits until that silo is declared dead).
    /// </summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<RetrainJob>> List(int limit);

    /// <summary>One job of this model, as last stored. A read, like <see cref="List"/>: it never waits for a worker.</summary>
    /// <exception cref="GridException"><see cref="GridErrorKind.NotFound"/>: no such job of this model.</exception>
    [AlwaysInterleave]
    Task<RetrainJob> Get(string jobId);

    /// <summary>Cancels an active job (a final job stays as it is) and returns its record.</summary>
    Task<RetrainJob> Cancel(string jobId, string client);

    /// <summary>A job grain's report of progress or of a new state; the coordinator stores it and tells listeners.</summary>
    [AlwaysInterleave]
    Task Report(RetrainJob job);
}

/// <summary>
/// One retraining job (key: the job id), on a worker silo. <see cref="Run"/> starts the work if it is not already
/// running in this activation and returns at once; the grain reports to its model's coordinator as it goes.
/// </summary>
public interface IRetrainJobGrain : IGrainWithStringKey
{
    /// <summary>Runs <paramref name="job"/> unless this activation runs it already (then nothing changes).</summary>
    Task Run(RetrainJob job);

    /// <summary>Whether this activation is running the job (false after a worker crash moved the grain).</summary>
    [AlwaysInterleave]
    Task<bool> IsRunning();

    /// <summary>Stops the work at the next step; nothing is registered after the stop.</summary>
    [AlwaysInterleave]
    Task Cancel();
}

/// <summary>
/// Where triggers (drift alarms, score decay, bar volume, the drift scan) send their requests for a job. A silo
/// service: it delivers each request to the model's <see cref="IRetrainCoordinatorGrain"/> on a durable Orleans
/// stream, so that a request sent is not lost when a silo dies before the coordinator has it.
/// </summary>
public interface IRetrainTriggers
{
    /// <summary>Sends <paramref name="request"/>; returns once it is on its way (stored, in cluster mode).</summary>
    Task Send(RetrainRequest request);
}

/// <summary>
/// The actions of the model events a retraining coordinator sends as its jobs move (on the registry's event fan-out,
/// <see cref="IModelRegistryGrain.PublishNotice"/>, beside <see cref="ModelAudit"/>'s and <see cref="DriftEvents"/>'s,
/// never stored in the audit log). The event's version is the job's challenger once registered, its client the
/// request's, and its detail the job's whole record as <see cref="RetrainJobJson"/> writes it.
/// </summary>
public static class RetrainEvents
{
    /// <summary>A job was accepted or changed state (waiting, running, registered, promoted, rejected, failed, cancelled), or what it waits for changed.</summary>
    public const string State = "retrain-state";

    /// <summary>A running job got further (bars read, rows built, folds validated, rounds trained); sent at most a few times a second.</summary>
    public const string Progress = "retrain-progress";
}
