namespace MarketIntel.Grains;

/// <summary>
/// This silo's running totals of the grid's work, kept with interlocked increments (cheap enough for every bar
/// and prediction). The server publishes them in Prometheus format on each scrape.
/// </summary>
public sealed class GridMetrics(SiloModelCache models)
{
    private long _barsAccepted;
    private long _barsIgnored;
    private long _barsRejected;
    private long _predictions;
    private long _activeAssets;
    private long _replays;
    private long _replayedBars;
    private long _replayTicks;

    public long BarsAccepted => Interlocked.Read(ref _barsAccepted);

    public long BarsIgnored => Interlocked.Read(ref _barsIgnored);

    public long BarsRejected => Interlocked.Read(ref _barsRejected);

    public long Predictions => Interlocked.Read(ref _predictions);

    /// <summary>Asset grains active on this silo.</summary>
    public long ActiveAssets => Interlocked.Read(ref _activeAssets);

    /// <summary>Activations (or spec changes) that rebuilt an asset's features from the bar archive.</summary>
    public long Replays => Interlocked.Read(ref _replays);

    /// <summary>Bars read back from the archive by those replays.</summary>
    public long ReplayedBars => Interlocked.Read(ref _replayedBars);

    /// <summary>Time spent replaying, in total.</summary>
    public TimeSpan ReplayTime => TimeSpan.FromTicks(Interlocked.Read(ref _replayTicks));

    /// <summary>Model versions loaded on this silo.</summary>
    public long LoadedModels => models.Count;

    internal void Ingested(int accepted, int ignored, int rejected)
    {
        if (accepted != 0)
        {
            Interlocked.Add(ref _barsAccepted, accepted);
        }
        if (ignored != 0)
        {
            Interlocked.Add(ref _barsIgnored, ignored);
        }
        if (rejected != 0)
        {
            Interlocked.Add(ref _barsRejected, rejected);
        }
    }

    internal void Replayed(int bars, TimeSpan took)
    {
        Interlocked.Increment(ref _replays);
        Interlocked.Add(ref _replayedBars, bars);
        Interlocked.Add(ref _replayTicks, took.Ticks);
    }

    internal void Predicted() => Interlocked.Increment(ref _predictions);

    internal void Activated() => Interlocked.Increment(ref _activeAssets);

    internal void Deactivated() => Interlocked.Decrement(ref _activeAssets);
}
