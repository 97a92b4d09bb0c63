using System.Globalization;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Grains.Placement;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining;

/// <summary>
/// The retraining coordinator of one model name (<see cref="IRetrainCoordinatorGrain"/>; docs/retraining.md). It keeps
/// every change of a job's record in the <see cref="IRetrainJobStore"/> before it tells anyone, and reads the model's
/// latest jobs back when it activates, so a coordinator started again on another serving silo picks up the active job.
/// While a job is active a grain timer, every <c>Grid:Retraining:CheckInterval</c>, hands a waiting job to a worker
/// (placement fails at once while there is none, and the job waits saying so) and asks a running job's grain whether it
/// still runs: a grain whose worker died is activated again on another by that very call, answers no, and is started
/// again with the next attempt. While a registered challenger waits for the promotion gate, the timer reads the
/// registry's audit log for the gate's decision on it.
/// </summary>
[ServingPlacement]
public sealed partial class RetrainCoordinatorGrain(IRetrainJobStore store, IOptions<RetrainingOptions> options, RetrainMetrics metrics, ILogger<RetrainCoordinatorGrain> log)
    : Grain, IRetrainCoordinatorGrain
{
    /// <summary>The most jobs <see cref="List"/> returns.</summary>
    public const int MaxList = 1000;

    // How many of the model's latest jobs an activation reads back: the active job is the newest, and challengers
    // waiting for the gate's decision among them are followed again.
    private const int ReadBack = 50;

    // The audit records read for the gate's decisions: the policy records a refusal only on materially new evidence,
    // so a decision on a recent challenger is among the last few hundred of its model's records.
    private const int AuditWindow = 500;

    private readonly RetrainingOptions _options = options.Value;
    private readonly Dictionary<string, RetrainJob> _awaitingDecision = new(StringComparer.Ordinal);
    // Changes are stored one at a time, in the order they were made (reports interleave with the coordinator's own
    // turns): each write waits for the one before it.
    private Task _lastWrite = Task.CompletedTask;
    private string _name = "";
    private RetrainJob? _latest;  // the model's newest job: the active one, when one is
    private IGrainTimer? _timer;
    private long _decisionsCheckedAt;  // Unix ms

    private IModelRegistryGrain Registry => GrainFactory.GetGrain<IModelRegistryGrain>(0);

    private IRetrainJobGrain JobGrain(string id) => GrainFactory.GetGrain<IRetrainJobGrain>(id);

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _name = this.GetPrimaryKeyString();
        IReadOnlyList<RetrainJob> jobs;
        try
        {
            jobs = await store.List(_name, ReadBack);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw GridException.Unavailable($"model '{_name}': its retraining jobs could not be read from the job store", e);
        }
        _latest = jobs.Count > 0 ? jobs[0] : null;
        foreach (RetrainJob registered in jobs.Where(j => j.State == RetrainJobState.Registered))
        {
            _awaitingDecision[registered.Id] = registered;
        }
        if (_latest is { IsActive: true } active)
        {
            LogPickedUp(_name, active.Id, active.State);
        }
        if (_latest is not null)
        {
            metrics.Holds(_name, _latest);
        }
        Watch();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The job is not over: the next activation, wherever it is, picks it up from the store.
        metrics.Released(_name);
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public async Task<RetrainStart> Request(RetrainRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request = Checked(request);
        long now = Now;
        if (_latest is { IsActive: true } active)
        {
            return new RetrainStart(false, active,
                $"job {active.Id} of model '{_name}' is {RetrainText.Name(active.State)} ({active.Detail}); a model has one job at a time: wait for it to end or cancel it");
        }
        if (_latest is { } last && !request.Force && now - last.CreatedAt < _options.MinimumInterval.TotalMilliseconds)
        {
            string next = RetrainText.Time(last.CreatedAt + (long)_options.MinimumInterval.TotalMilliseconds);
            return new RetrainStart(false, last,
                $"the last job of model '{_name}' ({last.Id}, {RetrainText.Name(last.State)}) began at {RetrainText.Time(last.CreatedAt)}, within the minimum interval of {_options.MinimumInterval} " +
                $"between jobs ({RetrainingOptions.Section}:MinimumInterval); the next may start after {next}" +
                (request.Trigger == RetrainTrigger.Manual ? ", or now if asked with force" : ""));
        }
        // Through stays 0 until the job's first worker reads the archive: it fixes it there, in the archive's time.
        var job = new RetrainJob(Guid.NewGuid().ToString("N"), request, RetrainJobState.Waiting, "accepted; handing it to a worker silo", RetrainProgress.None,
            null, null, 0, null, 0, now, now, null);
        await Change(job.Id, _ => job);
        LogAccepted(_name, job.Id, request.Trigger, request.Reason);
        await Dispatch(job);
        return new RetrainStart(true, Current(job.Id) ?? job, $"job {job.Id} started: it trains on its assets' archived bars up to the newest there when a worker first reads them");
    }

    public async Task<IReadOnlyList<RetrainJob>> List(int limit)
    {
        if (limit is < 1 or > MaxList)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"limit {limit} must be between 1 and {MaxList}");
        }
        await CheckDecisions();
        IReadOnlyList<RetrainJob> stored = await Read(() => store.List(_name, limit));
        // A change being stored right now is already in memory: the newest job as held here is the one to show.
        return [.. stored.Select(j => Current(j.Id) ?? j)];
    }

    // List and Get interleave with the coordinator's other turns, the timer's check of a worker above all: a job
    // grain on a silo killed a moment ago does not answer until that silo is declared dead, and a client polling its
    // job meanwhile would wait behind the check (and time out). They change the record only through Change (which
    // orders every change) and read what is held or stored, so interleaving is safe.
    public async Task<RetrainJob> Get(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        await CheckDecisions();
        if (Current(jobId) is { } held)
        {
            return held;
        }
        RetrainJob? job = await Read(() => store.Get(jobId));
        return job is not null && job.Request.Name == _name ? job
            : throw new GridException(GridErrorKind.NotFound, $"model '{_name}' has no retraining job '{jobId}'");
    }

    public async Task<RetrainJob> Cancel(string jobId, string client)
    {
        ArgumentNullException.ThrowIfNull(client);
        RetrainJob job = await Get(jobId);
        if (!job.IsActive)
        {
            return job;
        }
        RetrainJob? cancelled = await Change(job.Id, held => held is { IsActive: true }
            ? Ended(held, RetrainJobState.Cancelled, $"cancelled by {client} while {RetrainText.Name(held.State)} ({held.Detail})") : null);
        if (cancelled is null)
        {
            return Current(job.Id) ?? job;  // it ended meanwhile
        }
        LogCancelled(_name, job.Id, client);
        // A job never handed to a worker has no grain to stop (and with no worker up, the call could not be placed).
        if (job.Attempt > 0)
        {
            try
            {
                await JobGrain(job.Id).Cancel();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Its worker is gone or unreachable: there is nothing running to stop, and a report it still sends is ignored.
                LogCancelNotDelivered(_name, job.Id, e);
            }
        }
        return Current(job.Id) ?? cancelled;
    }

    public async Task Report(RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        bool final = job.State is RetrainJobState.Registered or RetrainJobState.Failed;
        if (!final && job.State != RetrainJobState.Running)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"job {job.Id}: a job grain reports running, registered or failed, not {RetrainText.Name(job.State)}");
        }
        RetrainJob? changed = await Change(job.Id, active =>
        {
            // A job that ended here already (cancelled, or a final report sent twice) stays as it ended. A report of
            // an attempt that was replaced (its worker was thought dead) changes nothing either, unless it registered
            // the challenger: then the version exists, and a later attempt would find it anyway.
            if (active is not { IsActive: true } || (job.Attempt < active.Attempt && job.State != RetrainJobState.Registered))
            {
                return null;
            }
            long now = Now;
            // What the coordinator fixed stays as it fixed it, and so does Through once a worker fixed it; the worker
            // tells the rest.
            return job with
            {
                Request = active.Request, Through = active.Through != 0 ? active.Through : job.Through, CreatedAt = active.CreatedAt,
                Attempt = Math.Max(active.Attempt, job.Attempt),
                UpdatedAt = now, FinishedAt = final ? now : null,
            };
        });
        if (changed is null)
        {
            LogReportIgnored(_name, job.Id, job.State);
        }
        else if (final)
        {
            LogEnded(_name, job.Id, job.State, job.Detail);
        }
    }

    // Hands the job to a worker (its grain starts the work and returns). No worker: the job waits, saying why.
    private async Task Dispatch(RetrainJob job)
    {
        int attempt = job.Attempt + 1;
        try
        {
            await JobGrain(job.Id).Run(job with { Attempt = attempt });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            string detail = e is GridException { Kind: GridErrorKind.Unavailable } ? e.Message
                : $"could not reach a worker silo ({e.Message}); tried again every {_options.CheckInterval}";
            if (await Change(job.Id, held => held is { IsActive: true } && (held.State != RetrainJobState.Waiting || held.Detail != detail)
                ? held with { State = RetrainJobState.Waiting, Detail = detail, UpdatedAt = Now } : null) is not null)
            {
                LogWaiting(_name, job.Id, detail);
            }
            return;
        }
        // Unless the worker's first report has moved it on already.
        string started = attempt == 1 ? "started on a worker silo" : $"started again on a worker silo (attempt {attempt}): the last attempt stopped running";
        await Change(job.Id, held => held is { IsActive: true } && held.Attempt < attempt
            ? held with { State = RetrainJobState.Running, Attempt = attempt, Detail = started, UpdatedAt = Now } : null);
    }

    // A running job whose grain no longer runs it (its silo died, and this call activated it again elsewhere) starts
    // again; one whose grain cannot be placed (no worker left) waits.
    private async Task CheckRunning(RetrainJob job)
    {
        bool running;
        try
        {
            running = await JobGrain(job.Id).IsRunning();
        }
        catch (GridException e) when (e.Kind == GridErrorKind.Unavailable)
        {
            if (await Change(job.Id, held => held is { State: RetrainJobState.Running } ? held with { State = RetrainJobState.Waiting, Detail = e.Message, UpdatedAt = Now } : null) is not null)
            {
                LogWaiting(_name, job.Id, e.Message);
            }
            return;
        }
        if (!running && Current(job.Id) is { State: RetrainJobState.Running } stopped)
        {
            LogRestarting(_name, job.Id, stopped.Attempt + 1);
            await Dispatch(stopped);
        }
    }

    // Registered challengers become Promoted or Rejected once the registry's audit log holds the gate's decision on
    // them. A refusal for want of evidence (fewer pairs than the gate needs) is no decision: the automatic policy
    // records one the first time it sees a new shadow, and judges it again as pairs arrive.
    private async Task CheckDecisions()
    {
        // Clients polling a job ask often; the audit log is read about once a check interval (nine tenths of one apart
        // leaves room for the timer's jitter).
        long now = Now;
        if (_awaitingDecision.Count == 0 || now - _decisionsCheckedAt < _options.CheckInterval.TotalMilliseconds * 0.9)
        {
            return;
        }
        _decisionsCheckedAt = now;
        IReadOnlyList<ModelAuditRecord> audit;
        try
        {
            audit = await Registry.GetAudit(_name, AuditWindow);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogAuditUnreadable(_name, e);
            return;
        }
        foreach (RetrainJob waiting in _awaitingDecision.Values.ToArray())
        {
            ModelAuditRecord? decision = audit.LastOrDefault(r => r.Version == waiting.Version && r.At >= waiting.CreatedAt
                && (r.Action == ModelAudit.Promoted || (r.Action == ModelAudit.Rejected && OnFullEvidence(r.Detail))));
            if (decision is null)
            {
                continue;
            }
            RetrainJobState state = decision.Action == ModelAudit.Promoted ? RetrainJobState.Promoted : RetrainJobState.Rejected;
            if (await Change(waiting.Id, held => held is { State: RetrainJobState.Registered }
                ? Ended(held, state, $"{held.Version}: {ReasonOf(decision.Detail)} (decided by {decision.Client})") : null) is not null)
            {
                LogEnded(_name, waiting.Id, state, decision.Action);
            }
        }
    }

    private static bool OnFullEvidence(string detail)
    {
        using JsonDocument json = JsonDocument.Parse(detail);
        JsonElement root = json.RootElement;
        return root.TryGetProperty("pairs", out JsonElement pairs) && pairs.TryGetInt64(out long n)
            && root.TryGetProperty("statistics", out JsonElement statistics) && statistics.TryGetProperty("minPairs", out JsonElement min)
            && min.ValueKind == JsonValueKind.Number && n >= min.GetDouble();
    }

    private static string ReasonOf(string detail)
    {
        using JsonDocument json = JsonDocument.Parse(detail);
        return json.RootElement.TryGetProperty("reason", out JsonElement reason) && reason.ValueKind == JsonValueKind.String ? reason.GetString()! : "decided";
    }

    private async Task Tick(CancellationToken cancellationToken)
    {
        try
        {
            if (_latest is { State: RetrainJobState.Waiting } waiting)
            {
                await Dispatch(waiting);
            }
            else if (_latest is { State: RetrainJobState.Running } running)
            {
                await CheckRunning(running);
            }
            await CheckDecisions();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogCheckFailed(_name, e);  // the next tick tries again
        }
        Watch();
    }

    // The timer runs while a job is active or a challenger waits for the gate's decision, and keeps the activation
    // alive meanwhile: no one else would notice a worker's death.
    private void Watch()
    {
        bool needed = _latest is { IsActive: true } || _awaitingDecision.Count > 0;
        if (needed && _timer is null)
        {
            _timer = this.RegisterGrainTimer(Tick, new GrainTimerCreationOptions(_options.CheckInterval, _options.CheckInterval) { KeepAlive = true });
        }
        else if (!needed && _timer is not null)
        {
            _timer.Dispose();
            _timer = null;
        }
    }

    // Makes the change <paramref name="update"/> works out from the job's record as held once earlier changes are
    // stored (null when the job is not held; the update returns null to change nothing): stores it, then holds it and
    // tells the silos' listeners. Returns the new record, or null. A store that fails changes nothing here, and the
    // error says the change may or may not have been kept.
    private async Task<RetrainJob?> Change(string id, Func<RetrainJob?, RetrainJob?> update)
    {
        Task previous = _lastWrite;
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _lastWrite = written.Task;
        try
        {
            await previous;
            RetrainJob? before = Current(id);
            RetrainJob? job = update(before);
            if (job is null)
            {
                return null;
            }
            await store.Save(job);
            // Held before the next change is worked out.
            Hold(before, job);
            return job;
        }
        catch (Exception e) when (e is not OperationCanceledException and not ArgumentException and not GridException)
        {
            throw GridException.Unavailable($"model '{_name}': retraining job {id} could not be stored; the change may or may not have been kept", e);
        }
        finally
        {
            written.SetResult();
        }
    }

    private void Hold(RetrainJob? before, RetrainJob job)
    {
        if (_latest is null || _latest.Id == job.Id || job.CreatedAt >= _latest.CreatedAt)
        {
            _latest = job;
        }
        if (job.State == RetrainJobState.Registered)
        {
            _awaitingDecision[job.Id] = job;
        }
        else
        {
            _awaitingDecision.Remove(job.Id);
        }
        if (before is null && job.State == RetrainJobState.Waiting && job.Attempt == 0)
        {
            metrics.Started(job.Request.Trigger);
        }
        else if (before?.State != job.State && !job.IsActive)
        {
            metrics.Reached(job);
        }
        metrics.Holds(_name, _latest);
        bool progressOnly = before is not null && before.State == job.State && before.Detail == job.Detail;
        var notice = new ModelAuditRecord(0, _name, progressOnly ? RetrainEvents.Progress : RetrainEvents.State, job.Version, job.UpdatedAt, job.Request.Client,
            RetrainJobJson.Write(job));
        try
        {
            _ = Registry.PublishNotice(notice);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogNoticeLost(_name, job.Id, e);  // the record is stored: a client polling the job still sees it
        }
        Watch();
    }

    // The newest record of a job this activation holds, or null.
    private RetrainJob? Current(string id) =>
        _latest?.Id == id ? _latest : _awaitingDecision.GetValueOrDefault(id);

    private static RetrainJob Ended(RetrainJob job, RetrainJobState state, string detail)
    {
        long now = Now;
        return job with { State = state, Detail = detail, UpdatedAt = now, FinishedAt = now };
    }

    private async Task<T> Read<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (Exception e) when (e is not OperationCanceledException and not GridException)
        {
            throw GridException.Unavailable($"model '{_name}': the retraining job store could not be read", e);
        }
    }

    // The request as kept: checked, with its assets listed once each.
    private RetrainRequest Checked(RetrainRequest request)
    {
        if (request.Name != _name)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"a request to retrain model '{request.Name}' was sent to the coordinator of model '{_name}'");
        }
        if (!Enum.IsDefined(request.Trigger))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{_name}': trigger {(int)request.Trigger} is not one of the known ones");
        }
        if (request.Force && request.Trigger != RetrainTrigger.Manual)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{_name}': only a manual request may force a job within the minimum interval, not a {RetrainText.Name(request.Trigger)} trigger");
        }
        if (request.Assets is { } assets)
        {
            foreach (string asset in assets)
            {
                if (AssetSymbol.Problem(asset) is { } problem)
                {
                    throw new GridException(GridErrorKind.InvalidArgument, $"model '{_name}': assets: {problem}");
                }
            }
        }
        if (request.Label is { } label && !LabelDefinition.TryParse(label, out _))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{_name}': label '{label}' is not up_K or logret_K (K bars ahead, at least 1)");
        }
        if (request.Spec is { } spec)
        {
            try
            {
                FeatureSet.Parse(spec);
            }
            catch (FeatureSpecException e)
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"model '{_name}': spec: {e.Message}");
            }
        }
        return request with
        {
            Reason = request.Reason ?? "",
            Client = request.Client ?? ModelAudit.LocalClient,
            Assets = request.Assets is { Count: > 0 } given ? [.. given.Distinct(StringComparer.Ordinal)] : null,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': retraining job {Job} accepted ({Trigger}: {Reason})")]
    private partial void LogAccepted(string name, string job, RetrainTrigger trigger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': retraining job {Job} picked up again ({State}) by a new activation of its coordinator")]
    private partial void LogPickedUp(string name, string job, RetrainJobState state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': retraining job {Job} waits: {Detail}")]
    private partial void LogWaiting(string name, string job, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model '{Name}': retraining job {Job} no longer runs on its worker; starting attempt {Attempt}")]
    private partial void LogRestarting(string name, string job, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': retraining job {Job} is {State}: {Detail}")]
    private partial void LogEnded(string name, string job, RetrainJobState state, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': retraining job {Job} cancelled by {Client}")]
    private partial void LogCancelled(string name, string job, string client);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Model '{Name}': a report of retraining job {Job} ({State}) came after the job ended or was replaced; ignored")]
    private partial void LogReportIgnored(string name, string job, RetrainJobState state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model '{Name}': the cancellation of retraining job {Job} did not reach its worker")]
    private partial void LogCancelNotDelivered(string name, string job, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model '{Name}': the registry's audit log could not be read for the gate's decisions; tried again at the next check")]
    private partial void LogAuditUnreadable(string name, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model '{Name}': the retraining check failed; tried again at the next interval")]
    private partial void LogCheckFailed(string name, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Model '{Name}': the event of retraining job {Job} could not be sent")]
    private partial void LogNoticeLost(string name, string job, Exception exception);
}
