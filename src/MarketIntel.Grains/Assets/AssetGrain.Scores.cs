using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Grains.Assets;

// The asset grain's score store side: the OutcomeScorer's tallies read back when the grain activates and written to
// the IScoreStore every Grid:Scoring:FlushInterval (one write at a time, off the bars' path) and as it deactivates; and
// the predictions still waiting for their outcome, carried in the grain state from one activation to the next.
public sealed partial class AssetGrain
{
    // Adds the stored tallies to what this activation scored so far (nothing, unless an earlier try failed). A store
    // that cannot be read does not stop the asset: the flush timer tries again, and nothing is written before then,
    // so stored tallies are never replaced by partial ones.
    private async Task LoadScores()
    {
        try
        {
            _scorer.Load(await _scores.Load(_asset));
            _scoresLoaded = true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogScoresUnreadable(_asset, e);
        }
    }

    // Every FlushInterval once the asset scores anything: starts a write of the tallies when they changed, without
    // holding up the grain's turn (bars go on while the store answers).
    private void FlushScores()
    {
        if (_flushing is { IsCompleted: false })
        {
            return;
        }
        if (!_scoresLoaded)
        {
            _flushing = LoadScores();
            return;
        }
        if (_scorer.Changed)
        {
            _flushing = SaveScores(_scorer.TakeChanges());
        }
    }

    private async Task SaveScores(ModelScores scores)
    {
        try
        {
            await _scores.Save(_asset, scores);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _scorer.MarkChanged();  // the next write carries these tallies (writes are absolute)
            LogScoresUnwritable(_asset, e);
        }
    }

    // Cluster mode, as the grain deactivates: the predictions waiting for their outcome go into the grain state (one
    // write, with the rest of the state as it is), so the next activation scores them when their bars come. Not where
    // the series holds bars the scorer never saw (replayed after a failed write): those outcomes would not line up.
    // Only when a sound activation goes away (shutdown, idle, memory pressure, migration): one deactivated as a
    // duplicate, as replaced (its own request, after the archive refused it) or after a failure may be stale, and its
    // write would move the state's ETag under the newer activation.
    private async Task SavePending(DeactivationReason reason)
    {
        if (reason.ReasonCode is not (DeactivationReasonCode.ShuttingDown or DeactivationReasonCode.ActivationIdle
                or DeactivationReasonCode.HighMemoryPressure or DeactivationReasonCode.Migrating or DeactivationReasonCode.RuntimeRequested)
            || !_archive.IsDurable || _resync || _scorer.Pending() is not { } pending || pending.LastTimestamp != _series.LastTimestamp)
        {
            return;
        }
        _state.State.Pending = pending;
        try
        {
            await _state.WriteStateAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Another activation wrote the state since (its ETag check), or storage failed: these outcomes go unscored.
            LogPendingUnwritable(_asset, e);
        }
    }

    // At activation, once the archive is replayed: the pending predictions the last activation left resume only where
    // the series ends at the bar they were saved after. A bar archived since, which no scorer saw (an overlapping
    // activation's append, or one whose call failed after its commit), would score them against the wrong bars.
    private void ResumePending()
    {
        if (_state.State.Pending is not { } pending)
        {
            return;
        }
        _state.State.Pending = null;  // taken: the next write of the state leaves it out
        if (_options.Scoring.Enabled && _series.HasBars && pending.LastTimestamp == _series.LastTimestamp)
        {
            _scorer.Resume(pending);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: the predictions waiting for their outcome could not be kept for its next activation; they go unscored")]
    private partial void LogPendingUnwritable(string asset, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: its stored outcome scores could not be read; tried again at the next flush")]
    private partial void LogScoresUnreadable(string asset, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: its outcome scores could not be stored; tried again at the next flush")]
    private partial void LogScoresUnwritable(string asset, Exception exception);
}
