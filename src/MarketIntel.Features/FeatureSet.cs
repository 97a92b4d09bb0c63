namespace MarketIntel.Features;

/// <summary>An ordered set of features parsed from a comma-separated spec such as <c>"sma_7,ema_50,rsi_14"</c>.</summary>
public sealed class FeatureSet
{
    private FeatureSet(FeatureDefinition[] definitions) => Definitions = definitions;

    public IReadOnlyList<FeatureDefinition> Definitions { get; }

    public int Count => Definitions.Count;

    public IEnumerable<string> Names => Definitions.Select(d => d.Name);

    /// <summary>Parses a spec; throws <see cref="FeatureSpecException"/> naming the feature and parameter at fault.</summary>
    public static FeatureSet Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string[] names = spec.Split(',');
        var definitions = new FeatureDefinition[names.Length];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++)
        {
            string name = names[i].Trim();
            if (name.Length == 0)
            {
                throw new FeatureSpecException($"feature spec: empty name at position {i + 1} of '{spec}'");
            }
            if (!seen.Add(name))
            {
                throw new FeatureSpecException(name, "appears twice in the spec");
            }
            definitions[i] = FeatureDefinition.Parse(name);
        }
        return new FeatureSet(definitions);
    }

    /// <summary>
    /// The batch form: one column per feature, one value per bar, NaN where undefined. Features are independent,
    /// so with <paramref name="parallel"/> they are computed on all cores; each column is the same either way.
    /// </summary>
    public double[][] Compute(BarSeries bars, bool parallel = false)
    {
        var columns = new double[Definitions.Count][];
        if (parallel)
        {
            Parallel.For(0, columns.Length, f => columns[f] = Definitions[f].Compute(bars));
        }
        else
        {
            for (int f = 0; f < columns.Length; f++)
            {
                columns[f] = Definitions[f].Compute(bars);
            }
        }
        return columns;
    }

    /// <summary>A new streaming state for one asset.</summary>
    public StreamingFeatureSet CreateStream() => new(Definitions.Select(d => d.CreateStream()).ToArray());
}

/// <summary>All features of a set for one asset, updated together once per bar with no allocation.</summary>
public sealed class StreamingFeatureSet
{
    private readonly StreamingFeature[] _streams;

    internal StreamingFeatureSet(StreamingFeature[] streams) => _streams = streams;

    public int Count => _streams.Length;

    /// <summary>Every stream's kernel layout, in order: what a checkpoint's fingerprint is taken of.</summary>
    internal IEnumerable<string> Layouts => _streams.Select(s => s.Layout);

    /// <summary>Writes every stream's state.</summary>
    internal void Save(BinaryWriter writer)
    {
        foreach (StreamingFeature stream in _streams)
        {
            stream.Save(writer);
        }
    }

    /// <summary>Puts back every stream's state; false when it does not fit (the set is then unusable).</summary>
    internal bool Restore(BinaryReader reader)
    {
        foreach (StreamingFeature stream in _streams)
        {
            if (!stream.Restore(reader))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Consumes one bar and writes each feature's value (NaN while undefined) into <paramref name="values"/>.</summary>
    public void Update(in Bar bar, Span<double> values)
    {
        var streams = _streams;
        if (values.Length < streams.Length)
        {
            throw new ArgumentException("values must hold one slot per feature", nameof(values));
        }
        for (int i = 0; i < streams.Length; i++)
        {
            values[i] = streams[i].Update(bar);
        }
    }
}
