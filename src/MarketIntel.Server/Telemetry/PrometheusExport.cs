using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Prometheus;

namespace MarketIntel.Server.Telemetry;

/// <summary>
/// Publishes the grid's meters (those this host's <see cref="IMeterFactory"/> made whose names start with
/// <see cref="Prefix"/>) in prometheus-net's default registry, which <c>/metrics</c> serves: each instrument under
/// its own name, its description as the help text, with its tags as labels in the order the measurements carry them,
/// and of the Prometheus type its kind means (a counter for counters, a histogram with the instrument's advised
/// buckets). Every other meter (Orleans, ASP.NET Core, the runtime) goes through prometheus-net's meter adapter,
/// which this class keeps off the grid's meters: that adapter publishes counters as gauges, sorts labels and adds to
/// the help text, and the grid's metric names, types and labels are a contract with dashboards (docs/api.md).
/// </summary>
/// <remarks>
/// An instrument's measurements must carry the same tag keys in the same order; the first measurement fixes them.
/// Several hosts in one process (tests) share the default registry, as the static counters this replaces did.
/// </remarks>
internal sealed class PrometheusExport : IDisposable
{
    /// <summary>The start of the name of every meter of the grid's own.</summary>
    public const string Prefix = "MarketIntel.";

    private static readonly ExemplarBehavior NoExemplars = ExemplarBehavior.NoExemplars();

    private readonly IMeterFactory _meters;
    private readonly MeterListener _listener = new();
    private volatile bool _disposed;

    public PrometheusExport(IMeterFactory meters)
    {
        _meters = meters;
        _listener.InstrumentPublished = Publish;
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.Start();
        // prometheus-net cannot take a callback back: after disposal this one does nothing.
        Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
        {
            if (!_disposed)
            {
                _listener.RecordObservableInstruments();
            }
        });
    }

    /// <summary>
    /// Keeps prometheus-net's meter adapter, which publishes every other meter, off the grid's own and off QUIC's: the
    /// grid never speaks HTTP/3, yet the runtime's QUIC meter (under Private.InternalDiagnostics.System.Net.Quic) publishes
    /// its gauges in every process that loads MsQuic.
    /// </summary>
    public static void ExcludeFromMeterAdapter() =>
        Metrics.ConfigureMeterAdapter(o => o.InstrumentFilterPredicate = instrument => !IsGrids(instrument.Meter) && !IsUnused(instrument.Meter));

    private static bool IsGrids(Meter meter) => meter.Name.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The meters of transports this host does not use.</summary>
    internal static bool IsUnused(Meter meter) => meter.Name.Contains("System.Net.Quic", StringComparison.Ordinal);

    private void Publish(Instrument instrument, MeterListener listener)
    {
        if (ReferenceEquals(instrument.Meter.Scope, _meters) && IsGrids(instrument.Meter))
        {
            listener.EnableMeasurementEvents(instrument, Series.For(instrument));
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose();
    }

    /// <summary>An instrument's Prometheus collector and its children, found by the measurements' tag values.</summary>
    private abstract class Series
    {
        public abstract void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags);

        public static Series For(Instrument instrument)
        {
            string name = instrument.Name, help = instrument.Description ?? "";
            return instrument switch
            {
                // An observed counter reports its total; a counter, what it adds.
                ObservableCounter<long> or ObservableCounter<double> =>
                    new Series<Counter.Child>(labels => Metrics.CreateCounter(name, help, Counters(labels)), static (child, total) => child.IncTo(total)),
                Counter<long> or Counter<double> =>
                    new Series<Counter.Child>(labels => Metrics.CreateCounter(name, help, Counters(labels)), static (child, added) => child.Inc(added)),
                ObservableGauge<long> or ObservableGauge<double> =>
                    new Series<Gauge.Child>(labels => Metrics.CreateGauge(name, help, new GaugeConfiguration { LabelNames = labels }), static (child, value) => child.Set(value)),
                Histogram<double> histogram =>
                    new Series<Histogram.Child>(labels => Metrics.CreateHistogram(name, help, new HistogramConfiguration
                    {
                        LabelNames = labels,
                        Buckets = histogram.Advice?.HistogramBucketBoundaries?.ToArray(),
                        ExemplarBehavior = NoExemplars,
                    }), static (child, value) => child.Observe(value)),
                _ => throw new NotSupportedException($"{instrument.Meter.Name}/{name}: a {instrument.GetType().Name} has no Prometheus form here"),
            };
        }

        private static CounterConfiguration Counters(string[] labels) => new() { LabelNames = labels, ExemplarBehavior = NoExemplars };
    }

    private sealed class Series<TChild> : Series
        where TChild : ChildBase
    {
        private readonly Func<string[], Collector<TChild>> _create;
        private readonly Action<TChild, double> _record;
        private readonly ConcurrentDictionary<string[], Entry> _children = new(LabelValues.Comparer);
        // A series not found last time reads the tag values in place: no allocation once a series exists.
        private readonly ConcurrentDictionary<string[], Entry>.AlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>> _lookup;
        private readonly Lock _creating = new();
        private Collector<TChild>? _collector;
        // The series last recorded. The grid's components keep each series' tags made once (a model version's label,
        // a route's tags), so a run of measurements of one series carries the same objects, which a reference
        // comparison recognises without hashing and comparing the values' text (docs/performance.md).
        private Entry? _last;

        public Series(Func<string[], Collector<TChild>> create, Action<TChild, double> record)
        {
            _create = create;
            _record = record;
            _lookup = _children.GetAlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>>();
        }

        public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            Entry? entry = _last;
            if (entry is null || !entry.IsCarriedBy(tags))
            {
                if (!_lookup.TryGetValue(tags, out entry))
                {
                    entry = Add(tags);
                }
                _last = entry;
            }
            _record(entry.Child, value);
        }

        private Entry Add(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var names = new string[tags.Length];
            for (int i = 0; i < tags.Length; i++)
            {
                names[i] = tags[i].Key;
            }
            lock (_creating)
            {
                _collector ??= _create(names);
                if (!_collector.LabelNames.AsSpan().SequenceEqual(names))
                {
                    throw new InvalidOperationException(
                        $"{_collector.Name}: measured with tags ({string.Join(", ", names)}), first with ({string.Join(", ", _collector.LabelNames)})");
                }
                string[] values = LabelValues.Comparer.Create(tags);
                var objects = new object?[tags.Length];
                for (int i = 0; i < tags.Length; i++)
                {
                    objects[i] = tags[i].Value;
                }
                return _children.GetOrAdd(values, new Entry(_collector.WithLabels(values), objects));
            }
        }

        /// <summary>A series' child, and the tag value objects of the measurement that created it.</summary>
        private sealed class Entry(TChild child, object?[] values)
        {
            public TChild Child { get; } = child;

            // The same objects mean the same label values; equal values in other objects take the lookup.
            public bool IsCarriedBy(ReadOnlySpan<KeyValuePair<string, object?>> tags)
            {
                if (tags.Length != values.Length)
                {
                    return false;
                }
                for (int i = 0; i < tags.Length; i++)
                {
                    if (!ReferenceEquals(tags[i].Value, values[i]))
                    {
                        return false;
                    }
                }
                return true;
            }
        }
    }

    /// <summary>Label values compared as strings, whether held in an array or still in a measurement's tags.</summary>
    private sealed class LabelValues : IEqualityComparer<string[]>, IAlternateEqualityComparer<ReadOnlySpan<KeyValuePair<string, object?>>, string[]>
    {
        public static readonly LabelValues Comparer = new();

        private static string Text(object? value) => value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";

        // A label's values come from a small set (status codes, methods, route patterns: series are kept bounded), which
        // a value's length and three of its characters tell apart; hashing every character took a quarter of the
        // export's cost per request (docs/performance.md). Equality still compares whole values.
        private static int Hash(string value) =>
            value.Length == 0 ? 0 : (((((value.Length * 31) + value[0]) * 31) + value[value.Length / 2]) * 31) + value[^1];

        public bool Equals(string[]? x, string[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(string[] values)
        {
            int hash = 0;
            foreach (string value in values)
            {
                hash = (hash * 31) + Hash(value);
            }
            return hash;
        }

        public bool Equals(ReadOnlySpan<KeyValuePair<string, object?>> tags, string[] values)
        {
            if (tags.Length != values.Length)
            {
                return false;
            }
            for (int i = 0; i < tags.Length; i++)
            {
                if (!string.Equals(Text(tags[i].Value), values[i], StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }

        public int GetHashCode(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            int hash = 0;
            foreach (var tag in tags)
            {
                hash = (hash * 31) + Hash(Text(tag.Value));
            }
            return hash;
        }

        public string[] Create(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var values = new string[tags.Length];
            for (int i = 0; i < tags.Length; i++)
            {
                values[i] = Text(tags[i].Value);
            }
            return values;
        }
    }
}
