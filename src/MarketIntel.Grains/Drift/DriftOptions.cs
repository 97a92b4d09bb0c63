namespace MarketIntel.Grains.Drift;

/// <summary>How asset grains track drift of their served version's inputs and prediction (section <c>Grid:Drift</c>).</summary>
public sealed class DriftOptions
{
    /// <summary>
    /// Whether asset grains keep drift windows. On, every accepted bar fills the served version's inputs and predicts
    /// (where nothing else asked for that bar's prediction) and counts them into the window.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How many recent bars the window holds (W): one byte per series per bar, so a 20-input model's window of 500
    /// takes about 10 KiB per asset. The statistics and their false-alarm rate hold at any W; a larger one detects
    /// smaller shifts and reacts more slowly.
    /// </summary>
    public int Window { get; set; } = 500;

    /// <summary>The longest window: 100,000 bars of a 40-input model take 4 MB per asset.</summary>
    public const int MaxWindow = 100_000;

    /// <summary>
    /// The false-discovery level of Benjamini-Hochberg across one asset's series: a series is flagged when the
    /// procedure rejects its chi-square test at this level.
    /// </summary>
    public double Alpha { get; set; } = 0.01;

    /// <summary>How often an asset grain writes its window's counts to the drift store (when they changed), off the bars' path.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Every this many bars an asset grain evaluates its window (statistics, flags, the silo's drift metrics, and an
    /// event when the asset starts or stops drifting); it also does at each flush.
    /// </summary>
    public int EvaluateEveryBars { get; set; } = 500;

    /// <summary>The checks <see cref="GridOptionsValidator"/> runs on these options, each failure naming its setting.</summary>
    internal IEnumerable<string> Failures()
    {
        if (Window is < 2 or > MaxWindow)
        {
            yield return $"Grid:Drift:Window {Window} must be between 2 and {MaxWindow}";
        }
        if (!(Alpha is > 0 and < 1))
        {
            yield return $"Grid:Drift:Alpha {Alpha} must be between 0 and 1 (exclusive)";
        }
        if (FlushInterval < TimeSpan.FromMilliseconds(10) || FlushInterval > TimeSpan.FromHours(1))
        {
            yield return $"Grid:Drift:FlushInterval {FlushInterval} must be between 00:00:00.010 and 01:00:00";
        }
        if (EvaluateEveryBars is < 1 or > 1_000_000)
        {
            yield return $"Grid:Drift:EvaluateEveryBars {EvaluateEveryBars} must be between 1 and 1000000";
        }
    }
}
