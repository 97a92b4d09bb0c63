using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// Collects the predictions an asset grain makes on one call's bars (the served version and each shadow, by lineup
/// position) into one <see cref="PredictionBatch"/> for the <see cref="IPredictionLog"/>: two arrays per call, nothing
/// per bar. Bars on which no version predicted (warm-up) are left out. Off (the log disabled, or no model), every
/// method returns at once.
/// </summary>
internal sealed class PredictionRecorder(IPredictionLog log)
{
    private ModelLineup? _lineup;      // the lineup _versions was made for
    private string[] _versions = [];
    private long[]? _timestamps;       // null: not recording this call
    private float[] _values = [];
    private int _bar;

    /// <summary>Whether the log keeps predictions (the grain then predicts after every bar).</summary>
    public bool Enabled => log.IsEnabled;

    /// <summary>Starts a call of <paramref name="bars"/> bars predicted by <paramref name="lineup"/> (null: no model, nothing recorded).</summary>
    public void Begin(ModelLineup? lineup, int bars)
    {
        _timestamps = null;
        if (lineup is null || !log.IsEnabled)
        {
            return;
        }
        if (!ReferenceEquals(lineup, _lineup))
        {
            _lineup = lineup;
            _versions = [.. lineup.Models.Select(m => m.Version)];
        }
        _timestamps = new long[bars];
        _values = new float[bars * _versions.Length];
        _values.AsSpan().Fill(float.NaN);
        _bar = -1;
    }

    /// <summary>The next bar, at <paramref name="timestamp"/> (Unix ms); the values recorded until the next call are its.</summary>
    public void Bar(long timestamp)
    {
        if (_timestamps is not null)
        {
            _timestamps[++_bar] = timestamp;
        }
    }

    /// <summary>The prediction of the version at lineup <paramref name="position"/> on the current bar.</summary>
    public void Record(int position, float value)
    {
        if (_timestamps is not null && position < _versions.Length)
        {
            _values[_bar * _versions.Length + position] = value;
        }
    }

    /// <summary>Hands the call's predictions to the log.</summary>
    public void Complete(string asset)
    {
        if (_timestamps is null)
        {
            return;
        }
        int width = _versions.Length, kept = 0;
        for (int bar = 0; bar <= _bar; bar++)
        {
            ReadOnlySpan<float> row = _values.AsSpan(bar * width, width);
            if (!AllNaN(row))
            {
                _timestamps[kept] = _timestamps[bar];
                row.CopyTo(_values.AsSpan(kept * width, width));
                kept++;
            }
        }
        if (kept > 0)
        {
            log.Append(new PredictionBatch(asset, _lineup!.Served.Name, _versions, _timestamps, _values, kept));
        }
        // The batch owns both arrays now: held here they would stay in memory with the grain until its next call.
        _timestamps = null;
        _values = [];
    }

    private static bool AllNaN(ReadOnlySpan<float> values)
    {
        foreach (float value in values)
        {
            if (!float.IsNaN(value))
            {
                return false;
            }
        }
        return true;
    }
}
