using System.Text;

namespace MarketIntel.Features.Series;

/// <summary>Where a bar's timestamp stands against an asset's series.</summary>
public enum BarOrder
{
    /// <summary>After the last accepted bar: a new bar.</summary>
    New,

    /// <summary>A timestamp already accepted (or too old to check): a replayed duplicate, ignored.</summary>
    Duplicate,

    /// <summary>Before the last accepted bar and never accepted: a new bar out of order, refused.</summary>
    OutOfOrder,
}

/// <summary>
/// One asset's bars as the grid serves them: the streaming features of a spec (O(1) per bar), a bounded ring of the
/// latest bars with the prediction its owner noted after each (<see cref="NotePrediction"/>; a replay or checkpoint
/// rebuilds the bars but not those predictions, which are NaN until new bars come), and the last accepted timestamp. The spec may grow when a model asks for features not computed yet;
/// the new features are then rebuilt from the ring, or, where every bar is archived, by the next
/// <see cref="Replay"/> of the archive, which is exact from the first bar. Not thread-safe: one owner (the asset's
/// grain) calls it, and <see cref="Replay"/> continues on the caller's context.
/// </summary>
public sealed class AssetSeries
{
    private readonly int _historyLength;
    private readonly bool _archived;
    private readonly Func<string, FeatureSet> _specs;
    private StoredBar[]? _history;  // allocated with the first bar: an asset fed only pushed vectors needs none
    private float[]? _predictions;  // per ring slot: the prediction noted after that bar, NaN where none was; allocated with the first
                                    // one noted (an asset nobody watches or scores predicts after no bar)
    private int _historyCount;
    private int _historyNext;
    private FeatureSet _spec;
    private FeatureSet _valuesSpec; // what _stream and _values were built for: _spec runs ahead until a replay catches up
    private StreamingFeatureSet? _stream;
    private double[] _values = [];
    private long _lastTimestamp = long.MinValue;

    /// <param name="spec">The features computed from the first bar.</param>
    /// <param name="historyLength">How many of the latest bars the ring keeps.</param>
    /// <param name="archived">
    /// Whether every accepted bar is archived and can be replayed: a grown spec then waits for <see cref="Replay"/>
    /// instead of being rebuilt from the ring.
    /// </param>
    /// <param name="specs">Parses a spec; a silo passes its cache so that assets share parsed specs (default: <see cref="FeatureSet.Parse"/>).</param>
    public AssetSeries(FeatureSet spec, int historyLength, bool archived, Func<string, FeatureSet>? specs = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(historyLength, 1);
        _spec = spec;
        _valuesSpec = spec;
        _historyLength = historyLength;
        _archived = archived;
        _specs = specs ?? FeatureSet.Parse;
    }

    /// <summary>The features wanted: <see cref="ValuesSpec"/> plus any added since, until a replay computes them.</summary>
    public FeatureSet Spec => _spec;

    /// <summary>The features <see cref="Values"/> holds, in this order.</summary>
    public FeatureSet ValuesSpec => _valuesSpec;

    /// <summary>The features' latest values (NaN while undefined); empty before the first bar.</summary>
    public ReadOnlySpan<double> Values => _values;

    /// <summary>The last accepted bar's timestamp (Unix ms); <see cref="long.MinValue"/> before the first.</summary>
    public long LastTimestamp => _lastTimestamp;

    /// <summary>Whether any bar has been applied.</summary>
    public bool HasBars => _lastTimestamp != long.MinValue;

    /// <summary>Whether the spec grew while bars are archived: <see cref="Replay"/> computes the new features.</summary>
    public bool ReplayNeeded { get; private set; }

    /// <summary>How many bars the ring holds.</summary>
    public int HistoryCount => _historyCount;

    /// <summary>The bars the ring holds, oldest first.</summary>
    internal IEnumerable<StoredBar> History()
    {
        for (int i = 0; i < _historyCount; i++)
        {
            yield return _history![(Start + i) % _history.Length];
        }
    }

    private int Start => _historyCount < _history!.Length ? 0 : _historyNext;

    /// <summary>
    /// Notes <paramref name="prediction"/> as the one made after the bar <paramref name="barsBack"/> bars before the
    /// latest (0: the latest). A bar the ring no longer holds is skipped: a call may apply more bars than the ring keeps
    /// before its predictions are noted.
    /// </summary>
    public void NotePrediction(int barsBack, float prediction)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(barsBack);
        if (barsBack < _historyCount)
        {
            _predictions ??= NoPredictions(_history!.Length);
            _predictions[(_historyNext - 1 - barsBack + _history!.Length) % _history.Length] = prediction;
        }
    }

    /// <summary>
    /// Copies the latest <paramref name="timestamps"/>.Length bars the ring holds (at most <see cref="HistoryCount"/>),
    /// oldest first: each bar's timestamp, close, and the prediction noted after it (NaN where none was). The three
    /// spans must be of one length.
    /// </summary>
    public void CopyHistory(Span<long> timestamps, Span<double> closes, Span<float> predictions)
    {
        int count = timestamps.Length;
        if (closes.Length != count || predictions.Length != count || count > _historyCount)
        {
            throw new ArgumentException($"{count} bars asked for into spans of {closes.Length} closes and {predictions.Length} predictions; the ring holds {_historyCount}");
        }
        for (int i = 0; i < count; i++)
        {
            int slot = (Start + _historyCount - count + i) % _history!.Length;
            timestamps[i] = _history[slot].Timestamp;
            closes[i] = _history[slot].Bar.Close;
            predictions[i] = _predictions is null ? float.NaN : _predictions[slot];
        }
    }

    private static float[] NoPredictions(int length)
    {
        var predictions = new float[length];
        Array.Fill(predictions, float.NaN);
        return predictions;
    }

    /// <summary>Consumes the next bar, which must be newer than <see cref="LastTimestamp"/>.</summary>
    public void Apply(StoredBar bar)
    {
        if (bar.Timestamp <= _lastTimestamp)
        {
            throw new ArgumentException($"bar at {bar.Timestamp} is not after the last one ({_lastTimestamp})", nameof(bar));
        }
        if (_stream is null)
        {
            StartStream();
        }
        _history ??= new StoredBar[_historyLength];
        _stream!.Update(bar.Bar, _values);
        _lastTimestamp = bar.Timestamp;
        _history[_historyNext] = bar;
        if (_predictions is not null)
        {
            _predictions[_historyNext] = float.NaN;  // the slot's previous bar's prediction goes with it
        }
        _historyNext = (_historyNext + 1) % _history.Length;
        _historyCount = Math.Min(_historyCount + 1, _history.Length);
    }

    /// <summary>
    /// Where a bar at <paramref name="timestamp"/> stands, given <paramref name="pending"/>: the bars accepted earlier in
    /// the same call, ascending, not applied yet. An older timestamp is a duplicate when the ring or the pending bars
    /// hold it, or when it is older than everything the ring holds (it cannot be checked there, and a replay starts
    /// from the beginning); otherwise it would be a new bar out of order.
    /// </summary>
    public BarOrder Order(long timestamp, IReadOnlyList<StoredBar>? pending = null)
    {
        bool anyPending = pending is { Count: > 0 };
        long last = anyPending ? pending![^1].Timestamp : _lastTimestamp;
        if (timestamp > last)
        {
            return BarOrder.New;
        }
        if (timestamp == last || (anyPending && Contains(pending!, timestamp)))
        {
            return BarOrder.Duplicate;
        }
        if (_history is null || _historyCount == 0 || timestamp < _history[Start].Timestamp)
        {
            return anyPending && timestamp >= pending![0].Timestamp ? BarOrder.OutOfOrder : BarOrder.Duplicate;
        }
        for (int i = 0; i < _historyCount; i++)
        {
            if (_history[i].Timestamp == timestamp)
            {
                return BarOrder.Duplicate;
            }
        }
        return BarOrder.OutOfOrder;
    }

    // Pending bars are ascending: a binary search keeps a large call that repeats its own bars linear-logarithmic.
    private static bool Contains(IReadOnlyList<StoredBar> bars, long timestamp)
    {
        int lo = 0, hi = bars.Count - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            long t = bars[mid].Timestamp;
            if (t == timestamp)
            {
                return true;
            }
            if (t < timestamp)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return false;
    }

    /// <summary>
    /// Adds those of <paramref name="names"/> the spec lacks, at its end, so indices into <see cref="Values"/> worked
    /// out before stay valid. Returns whether the spec grew. With bars already applied, the new features are rebuilt
    /// from the ring (exact once it covers each new feature's warm-up), or wait for <see cref="Replay"/> where bars
    /// are archived.
    /// </summary>
    public bool EnsureFeatures(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var current = new HashSet<string>(_spec.Names, StringComparer.Ordinal);
        List<string>? missing = null;
        foreach (string name in names)
        {
            if (current.Add(name))
            {
                (missing ??= []).Add(name);
            }
        }
        if (missing is null)
        {
            return false;
        }
        _spec = _specs(string.Join(',', _spec.Names.Concat(missing)));
        Follow();
        return true;
    }

    /// <summary>
    /// Replaces the spec (after the asset's stored spec was read again). With bars already applied, its features are
    /// computed as when the spec grows: by the next <see cref="Replay"/> where bars are archived, else from the ring.
    /// </summary>
    public void Respecify(FeatureSet spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        bool same = spec.Names.SequenceEqual(_valuesSpec.Names, StringComparer.Ordinal);
        _spec = spec;
        if (!same)
        {
            Follow();
        }
    }

    // The values follow a changed spec: from the first bar when none has come, else by replay or from the ring.
    private void Follow()
    {
        if (_stream is null || _history is null)
        {
            return;
        }
        if (_archived)
        {
            ReplayNeeded = true;
            return;
        }
        StartStream();
        int start = Start;
        for (int i = 0; i < _historyCount; i++)
        {
            _stream!.Update(_history[(start + i) % _history.Length].Bar, _values);
        }
    }

    /// <summary>
    /// Rebuilds the features, the ring and the last timestamp from every bar of the asset, oldest first (its archive):
    /// the same bars in the same order give the same features as the uninterrupted run. A read that fails puts back
    /// what the series had and rethrows. Returns how many bars were read.
    /// </summary>
    public async Task<int> Replay(IAsyncEnumerable<StoredBar> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        var saved = (_valuesSpec, _stream, _values, _history, _predictions, _historyCount, _historyNext, _lastTimestamp);
        // As before the first bar: no stream yet (the first bar starts one with the spec as it is then), values undefined.
        StartStream();
        (_stream, _history, _predictions, _historyCount, _historyNext, _lastTimestamp) = (null, null, null, 0, 0, long.MinValue);
        return await ApplyAll(bars, saved);
    }

    // Applies the bars after the state was reset or restored; a read that fails puts back the state saved before.
    private async Task<int> ApplyAll(IAsyncEnumerable<StoredBar> bars,
        (FeatureSet, StreamingFeatureSet?, double[], StoredBar[]?, float[]?, int, int, long) saved)
    {
        int count = 0;
        try
        {
            // No ConfigureAwait(false): the caller is a grain, whose state may only be touched in its own turn.
            await foreach (StoredBar bar in bars)
            {
                Apply(bar);
                count++;
            }
        }
        catch
        {
            (_valuesSpec, _stream, _values, _history, _predictions, _historyCount, _historyNext, _lastTimestamp) = saved;
            throw;
        }
        ReplayNeeded = false;
        return count;
    }

    /// <summary>
    /// The series' whole state (the spec, every feature's streaming state, the values, the ring, the last timestamp)
    /// as bytes, for <see cref="ReplayAfter"/> to continue from; null when there is nothing to keep (no bar yet) or
    /// the values lag the spec (a replay is due). Continuing from it gives bit for bit what continuing here would.
    /// </summary>
    public byte[]? Checkpoint()
    {
        if (_stream is null || _history is null || ReplayNeeded)
        {
            return null;
        }
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer))
        {
            writer.Write(CheckpointMagic);
            writer.Write(CheckpointFormat);
            writer.Write(string.Join(',', _valuesSpec.Names));
            writer.Write(Fingerprint(_stream));
            writer.Write(_lastTimestamp);
            writer.Write(_historyCount);
            foreach (StoredBar bar in History())
            {
                writer.Write(bar.Timestamp);
                writer.Write(bar.Bar.Open);
                writer.Write(bar.Bar.High);
                writer.Write(bar.Bar.Low);
                writer.Write(bar.Bar.Close);
                writer.Write(bar.Bar.Volume);
            }
            writer.Write(_values.Length);
            foreach (double value in _values)
            {
                writer.Write(value);
            }
            _stream.Save(writer);
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Rebuilds the series as <see cref="Replay"/> does, but from a <see cref="Checkpoint"/> and the bars after it
    /// (<paramref name="barsAfter"/> gets the checkpoint's last timestamp). Returns null, the series unchanged, when
    /// the checkpoint does not fit: another spec than the current one, another build's kernels, another format or
    /// damaged bytes; the caller then replays every bar. A read that fails puts back what the series had and rethrows.
    /// </summary>
    public async Task<int?> ReplayAfter(byte[] checkpoint, Func<long, IAsyncEnumerable<StoredBar>> barsAfter)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(barsAfter);
        var saved = (_valuesSpec, _stream, _values, _history, _predictions, _historyCount, _historyNext, _lastTimestamp);
        bool restored;
        try
        {
            restored = Restore(checkpoint);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or FeatureSpecException)
        {
            restored = false;
        }
        if (!restored)
        {
            (_valuesSpec, _stream, _values, _history, _predictions, _historyCount, _historyNext, _lastTimestamp) = saved;
            return null;
        }
        return await ApplyAll(barsAfter(_lastTimestamp), saved);
    }

    private const int CheckpointMagic = 0x5043494D;  // "MICP"
    private const int CheckpointFormat = 1;

    // Takes the checkpoint's state when it fits the current spec and this build's kernels.
    private bool Restore(byte[] checkpoint)
    {
        using var reader = new BinaryReader(new MemoryStream(checkpoint, writable: false));
        if (reader.ReadInt32() != CheckpointMagic || reader.ReadInt32() != CheckpointFormat || reader.ReadString() != string.Join(',', _spec.Names))
        {
            return false;
        }
        StartStream();
        if (reader.ReadInt64() != Fingerprint(_stream!))
        {
            return false;
        }
        _lastTimestamp = reader.ReadInt64();
        int count = reader.ReadInt32();
        _history = new StoredBar[_historyLength];
        _predictions = null;  // predictions are not checkpointed: a restored ring has none
        (_historyCount, _historyNext) = (0, 0);
        for (int i = 0; i < count; i++)
        {
            var bar = new StoredBar(reader.ReadInt64(), new Bar(reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble()));
            _history[_historyNext] = bar;  // a ring shorter than the checkpoint's keeps its latest bars
            _historyNext = (_historyNext + 1) % _history.Length;
            _historyCount = Math.Min(_historyCount + 1, _history.Length);
        }
        if (reader.ReadInt32() != _values.Length)
        {
            return false;
        }
        for (int i = 0; i < _values.Length; i++)
        {
            _values[i] = reader.ReadDouble();
        }
        return _stream!.Restore(reader) && reader.BaseStream.Position == reader.BaseStream.Length;
    }

    // What the kernels' fields are in this build: a checkpoint written by kernels laid out otherwise is not read.
    private static long Fingerprint(StreamingFeatureSet stream) =>
        BitConverter.ToInt64(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', stream.Layouts))));

    private void StartStream()
    {
        _valuesSpec = _spec;
        _stream = _spec.CreateStream();
        _values = new double[_spec.Count];
        Array.Fill(_values, double.NaN);
    }
}
