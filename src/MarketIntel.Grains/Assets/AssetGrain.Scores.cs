using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Grains.Assets;

// The asset grain's score store side: the OutcomeScorer's tallies read back when the grain activates and written to
// the IScoreStore every Grid:Scoring:FlushInterval (one write at a time, off the bars' path) and as it deactivates.
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: its stored outcome scores could not be read; tried again at the next flush")]
    private partial void LogScoresUnreadable(string asset, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Asset}: its outcome scores could not be stored; tried again at the next flush")]
    private partial void LogScoresUnwritable(string asset, Exception exception);
}
