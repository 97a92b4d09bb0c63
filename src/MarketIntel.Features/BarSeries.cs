namespace MarketIntel.Features;

/// <summary>Bars in column form, for the batch form of the features.</summary>
public sealed class BarSeries
{
    public BarSeries(string[] timestamps, double[] open, double[] high, double[] low, double[] close, double[] volume)
    {
        int n = timestamps.Length;
        if (open.Length != n || high.Length != n || low.Length != n || close.Length != n || volume.Length != n)
        {
            throw new ArgumentException("every column of a bar series must have one value per timestamp");
        }
        Timestamps = timestamps;
        Open = open;
        High = high;
        Low = low;
        Close = close;
        Volume = volume;
    }

    public string[] Timestamps { get; }
    public double[] Open { get; }
    public double[] High { get; }
    public double[] Low { get; }
    public double[] Close { get; }
    public double[] Volume { get; }
    public int Count => Timestamps.Length;

    public Bar this[int index] => new(Open[index], High[index], Low[index], Close[index], Volume[index]);

    /// <summary>A close-only series: high = low = open = close and volume = 1, as the TTR reference script does.</summary>
    public static BarSeries FromCloses(string[] timestamps, double[] close)
    {
        var volume = new double[close.Length];
        Array.Fill(volume, 1.0);
        return new BarSeries(timestamps, close, close, close, close, volume);
    }
}
