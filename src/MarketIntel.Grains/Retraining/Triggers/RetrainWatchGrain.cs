using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// The retraining watch (<see cref="IRetrainWatchGrain"/>), on a worker silo: the drift scan reads every stored window,
/// the heaviest of its checks, and none of them may slow the serving path. Each interval it scans the drift windows
/// (<see cref="DriftScanJob"/>), updates each model name's <see cref="ModelLedger"/> from the cluster's score totals, and
/// sends at most one request per name: Drift when enough assets drift (unless <c>Grid:Retraining:Triggers:Drift</c> is
/// off, which silences the drift alarms' requests too), else ScoreDecay when the served version's live
/// score is past its threshold, else BarVolume when enough new bars arrived since the name's last job. A name whose
/// newest job is still active gets none (the coordinator would refuse it). Requests go through
/// <see cref="IRetrainTriggers"/>; the coordinator debounces, and a trigger that still holds asks again next interval.
/// </summary>
[Placement.WorkerPlacement, Placement.WorkerService]
public sealed partial class RetrainWatchGrain(
    [PersistentState("retrain-watch", GridStorage.Name)] IPersistentState<RetrainWatchState> state,
    IRetrainTriggers triggers,
    IRetrainJobStore jobs,
    IScoreStore scores,
    IDriftStore drift,
    SiloModelCache models,
    Drift.SiloDriftScans scans,
    IOptions<RetrainTriggerOptions> options,
    IOptions<DriftTriggerOptions> driftTrigger,
    IOptions<GridOptions> grid,
    ILogger<RetrainWatchGrain> log)
    : Grain, IRetrainWatchGrain
{
    /// <summary>The client the watch's requests name (as in the audit log).</summary>
    public const string Client = "retrain-watch";

    private readonly RetrainTriggerOptions _options = options.Value;

    private IModelRegistryGrain Registry => GrainFactory.GetGrain<IModelRegistryGrain>(0);

    public async Task<RetrainWatchReport?> Check(long interval)
    {
        if (interval <= state.State.Interval)
        {
            return null;
        }
        state.State.Interval = interval;
        var sent = new List<RetrainRequest>();
        var held = new List<string>();
        IReadOnlyDictionary<string, DriftFinding> drifting = new Dictionary<string, DriftFinding>();
        try
        {
            if (driftTrigger.Value.Drift)
            {
                drifting = await DriftScanJob.Scan(drift, models, scans, grid.Value.Drift.Alpha);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Score decay and bar volume need no drift windows: they go on.
            held.Add($"the drift scan failed ({e.Message})");
            LogScanFailed(e);
        }
        ModelRef? gridDefault = await Registry.GetDefault();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (ModelDetails model in (await Registry.ListModels()).OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            names.Add(model.Name);
            try
            {
                (RetrainRequest? request, RetrainJob? active) = await CheckModel(model, drifting.GetValueOrDefault(model.Name), gridDefault, interval);
                if (request is null)
                {
                    continue;
                }
                if (active is not null)
                {
                    held.Add($"{model.Name}: {request.Trigger} held back, job {active.Id} is {active.State.ToString().ToLowerInvariant()}");
                    continue;
                }
                await triggers.Send(request);
                sent.Add(request);
                LogSent(model.Name, request.Trigger, request.Reason);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                held.Add($"{model.Name}: the check failed ({e.Message})");
                LogCheckFailed(model.Name, e);  // the next interval tries again; other models go on
            }
        }
        foreach (string gone in state.State.Models.Keys.Where(n => !names.Contains(n)).ToArray())
        {
            state.State.Models.Remove(gone);
        }
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStateUnwritable(e);  // counts since the last write are lost if this activation goes; the next check writes again
        }
        return new RetrainWatchReport(interval, sent, held);
    }

    // The model's one request this interval, if a trigger fires, and its newest job if that is still active.
    private async Task<(RetrainRequest? Request, RetrainJob? Active)> CheckModel(ModelDetails model, DriftFinding? drifting, ModelRef? gridDefault, long interval)
    {
        string name = model.Name;
        IReadOnlyList<RetrainJob> newest = await jobs.List(name, 1);
        RetrainJob? latest = newest.Count > 0 ? newest[0] : null;
        IReadOnlyList<OutcomeTally> tallies = (await scores.Totals(name)).Versions;
        IReadOnlyList<string> serving = ModelLedger.ServingVersions(model, gridDefault);
        if (state.State.Models.TryGetValue(name, out ModelLedger? ledger))
        {
            ledger.Observe(tallies, serving, latest, interval);
        }
        else
        {
            ledger = ModelLedger.Begin(tallies, serving, latest, interval);
            state.State.Models[name] = ledger;
        }
        RetrainRequest? request = drifting is null ? null : DriftScanJob.Request(name, drifting, _options.DriftingAssets, Client);
        if (request is null && ledger.Decayed(RetrainJobGrain.Served(model, gridDefault), tallies, _options.ScoreDecay) is { } decayed)
        {
            request = new RetrainRequest(name, RetrainTrigger.ScoreDecay, "score decay: " + decayed, Client);
        }
        if (request is null && _options.BarVolume > 0 && ledger.Bars >= _options.BarVolume)
        {
            request = new RetrainRequest(name, RetrainTrigger.BarVolume, ledger.BarsText(_options.BarVolume), Client);
        }
        return (request, latest is { IsActive: true } ? latest : null);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': asked for a {Trigger} retraining job: {Reason}")]
    private partial void LogSent(string name, RetrainTrigger trigger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The retraining watch's drift scan failed; score decay and bar volume were checked, the scan runs again at the next interval")]
    private partial void LogScanFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The retraining watch's check of model '{Name}' failed; tried again at the next interval")]
    private partial void LogCheckFailed(string name, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The retraining watch's counts could not be stored; written again at the next interval")]
    private partial void LogStateUnwritable(Exception exception);
}
