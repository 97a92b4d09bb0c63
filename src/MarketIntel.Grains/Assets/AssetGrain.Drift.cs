using System.Text.Json;
using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Training.Drift;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Grains.Assets;

// The asset grain's drift side: it keeps the DriftTracker on the served version, writes the window's counts to the
// IDriftStore every Grid:Drift:FlushInterval (one write at a time, off the bars' path, as the scores are written),
// announces each crossing into or out of drift on the registry's model events and, for a raised alarm, asks for a
// retraining job through IRetrainTriggers (Grid:Retraining:Triggers:Drift).
public sealed partial class AssetGrain
{
    private Task? _driftFlushing;            // the drift store write under way, if any
    private IGrainTimer? _driftTimer;        // set once the asset counts a window
    private (ModelRef Model, double Accuracy, double LogLoss)? _validation;  // the served version's, once read from its lineage
    private readonly IRetrainTriggers? _retrainTriggers;  // null: Grid:Retraining:Triggers:Drift is off

    // Follows the served version (null: the asset has no model) and, while it has no reference yet, asks the silo's
    // cache for one each batch (a profile may be given to a version after it serves): a cached answer, no registry call.
    private async Task TrackDrift(ModelLineup? lineup)
    {
        Announce(_drift.Serve(lineup?.Served, lineup?.Loaded[0]));
        if (lineup is null || !_drift.WantsReference)
        {
            return;
        }
        ReferenceProfile? profile;
        try
        {
            // A reference that cannot be read never stops the bars: drift waits for the next batch's look.
            profile = await _models.Profile(lineup.Served);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogProfileUnreadable(_asset, lineup.Served.ToString(), e);
            return;
        }
        if (profile is null)
        {
            return;
        }
        _drift.Reference(profile);
        if (_drift.Counting && _driftTimer is null)
        {
            _driftTimer = this.RegisterGrainTimer(static grain =>
            {
                grain.FlushDrift();
                return Task.CompletedTask;
            }, this, _options.Drift.FlushInterval, _options.Drift.FlushInterval);
        }
    }

    // A crossing goes to every silo's model event listeners through the registry, one way: the grain never waits for
    // it, and a registry that cannot be reached loses the event (the next evaluation does not repeat it; GET /drift and
    // the metrics still tell the state).
    private void Announce(DriftCrossing? crossing)
    {
        if (crossing is null)
        {
            return;
        }
        var detail = new JsonObject
        {
            ["asset"] = _asset,
            ["series"] = new JsonArray([.. crossing.Series.Select(s => JsonValue.Create(s))]),
            ["worstPsi"] = double.IsFinite(crossing.WorstPsi) ? JsonValue.Create(crossing.WorstPsi) : null,
        };
        var change = new ModelAuditRecord(0, crossing.Model.Name, crossing.Drifting ? DriftEvents.Raised : DriftEvents.Cleared, crossing.Model.Version,
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ModelAudit.LocalClient, detail.ToJsonString());
        try
        {
            _ = GrainFactory.GetGrain<IModelRegistryGrain>(0).PublishNotice(change);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogDriftEventLost(_asset, e);
        }
        if (crossing.Drifting && _retrainTriggers is not null)
        {
            _ = AskRetrain(_retrainTriggers, new RetrainRequest(crossing.Model.Name, RetrainTrigger.Drift,
                $"{_asset}: {crossing.Series.Count} of {crossing.Evaluated} series drifting", "drift"));
        }
    }

    // A raised alarm asks for a retraining job on the trigger stream (durable in cluster mode), never waited for by the
    // bars: a send that fails is logged and the alarm stays visible (GET /drift, the metrics, the drift scan).
    private async Task AskRetrain(IRetrainTriggers triggers, RetrainRequest request)
    {
        try
        {
            await triggers.Send(request);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogRetrainRequestLost(_asset, request.Name, e);
        }
    }

    // Every FlushInterval: evaluates the window (its metrics and crossings) and starts a write of its counts when they
    // changed, without holding up the grain's turn.
    private void FlushDrift()
    {
        Announce(_drift.Evaluate());
        if (_driftFlushing is { IsCompleted: false } || !_drift.Changed)
        {
            return;
        }
        if (_drift.TakeCounts() is { } counts)
        {
            _driftFlushing = SaveDrift(counts);
        }
    }

    private async Task SaveDrift(DriftCounts counts)
    {
        try
        {
            await _driftStore.Save(counts);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _drift.MarkChanged();  // the next write carries these counts (writes are absolute)
            LogDriftUnwritable(_asset, e);
        }
    }

    // As the grain deactivates: the last counts stored, the asset out of the silo's drift metrics.
    private async Task StopDrift()
    {
        _driftTimer?.Dispose();
        if (_driftFlushing is not null)
        {
            await _driftFlushing;
        }
        if (_drift.Changed && _drift.TakeCounts() is { } counts)
        {
            await SaveDrift(counts);
        }
        _drift.Withdraw();
    }

    public async Task<AssetDrift> GetDrift()
    {
        if (!HasBars && Pushed is null)
        {
            throw Unknown("has no bars");
        }
        ConceptDrift? concept = null;
        if (_drift.Served is { } served)
        {
            OutcomeTally? live = _scorer.Snapshot().Versions.FirstOrDefault(t => t.Model.Equals(served));
            (double accuracy, double logLoss) = await Validation(served);
            concept = DriftTracker.Concept(live, accuracy, logLoss, _options.Drift.Alpha);
        }
        return _drift.Report(concept);
    }

    // The accuracy and log loss of the version's lineage ("validation"), NaN where it has none; kept once found (a
    // lineage is set once), read from the registry otherwise (a lineage may be set later).
    private async Task<(double Accuracy, double LogLoss)> Validation(ModelRef model)
    {
        if (_validation is { } held && held.Model.Equals(model))
        {
            return (held.Accuracy, held.LogLoss);
        }
        ModelDetails details = await GrainFactory.GetGrain<IModelRegistryGrain>(0).GetModel(model.Name);
        string? lineage = details.Versions.FirstOrDefault(v => v.Info.Model.Equals(model))?.Lineage;
        if (lineage is null)
        {
            return (double.NaN, double.NaN);
        }
        using JsonDocument document = JsonDocument.Parse(lineage);
        double accuracy = double.NaN, logLoss = double.NaN;
        if (document.RootElement.TryGetProperty("validation", out JsonElement validation) && validation.ValueKind == JsonValueKind.Object)
        {
            accuracy = Metric(validation, "accuracy");
            logLoss = Metric(validation, "logLoss");
        }
        _validation = (model, accuracy, logLoss);
        return (accuracy, logLoss);
    }

    private static double Metric(JsonElement validation, string name) =>
        validation.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : double.NaN;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: the reference profile of {Model} could not be read; drift is not tracked for it until it can")]
    private partial void LogProfileUnreadable(string asset, string model, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: its drift window could not be stored; tried again at the next flush")]
    private partial void LogDriftUnwritable(string asset, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: its drift alarm's retraining request for {Name} could not be sent")]
    private partial void LogRetrainRequestLost(string asset, string name, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: a drift event could not be sent to the model registry")]
    private partial void LogDriftEventLost(string asset, Exception exception);
}
