using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Quality;
using MarketIntel.Features.Series;
using MarketIntel.Grains;
using MarketIntel.Grains.Assets;
using MarketIntel.Grains.Drift;
using MarketIntel.Inference;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MarketIntel.Benchmarks;

/// <summary>
/// What each part of an asset grain holds (grid-memory --parts): each component is built as the grain builds it, with
/// the host's own services and options, fed the same bars, many times over; the growth of the live heap (after full
/// compacting collections) divided by the number built is one grain's share. What the grid-memory total holds beyond
/// these parts is Orleans' activation and the grain object with its state (docs/performance.md).
/// </summary>
internal static class GridMemoryParts
{
    public const int Copies = 4000;

    public static void Report(IServiceProvider services, StoredBar[] bars, Model? model)
    {
        GridOptions options = services.GetRequiredService<IOptions<GridOptions>>().Value;
        var specs = services.GetRequiredService<FeatureSpecCache>();
        var metrics = services.GetRequiredService<GridMetrics>();
        var local = services.GetRequiredService<LocalPredictor>();
        var cache = services.GetRequiredService<IAssetCache>();
        var log = services.GetRequiredService<IPredictionLog>();
        var driftMetrics = services.GetRequiredService<DriftMetrics>();
        // The spec as a grain serving the model computes it: the grid's features plus the model's.
        FeatureSet spec = specs.Get(options.Features);
        if (model?.FeatureNames is { } names)
        {
            spec = specs.Get(string.Join(',', spec.Names.Union(names, StringComparer.Ordinal)));
        }
        var rows = new List<(string Part, double Bytes)>();
        void Measure(string part, Func<int, object> build) => rows.Add((part, PerCopy(build)));

        Measure($"feature streams ({spec.Count} features' kernel state)", _ =>
        {
            StreamingFeatureSet stream = spec.CreateStream();
            var values = new double[spec.Count];
            foreach (StoredBar bar in bars)
            {
                stream.Update(bar.Bar, values);
            }
            return stream;
        });
        // Each feature's state alone (its size is fixed once its windows are allocated, so 200 bars are enough).
        foreach (FeatureDefinition definition in spec.Definitions)
        {
            Measure($"  of which {definition.Name}", _ =>
            {
                StreamingFeature stream = definition.CreateStream();
                foreach (StoredBar bar in bars.AsSpan(0, Math.Min(bars.Length, 200)))
                {
                    stream.Update(bar.Bar);
                }
                return stream;
            });
        }
        Measure($"series: streams + latest values + ring of {options.HistoryLength} bars (AssetSeries)", _ => Series(spec, options, specs, bars));
        Measure("bar quality detectors (BarQuality)", _ =>
        {
            var quality = new BarQuality(options.Quality);
            foreach (StoredBar bar in bars)
            {
                quality.Observe(bar.Timestamp, bar.Bar.Close);
            }
            return quality;
        });
        Measure("drift tracker with its bar quality, no reference profile (DriftTracker)", i =>
        {
            var drift = new DriftTracker(Asset(i), options.Drift, options.Quality, driftMetrics);
            foreach (StoredBar bar in bars)
            {
                drift.BarArrived(bar.Timestamp, bar.Bar.Close);
            }
            return drift;
        });
        Measure("outcome scorer, model not scored (OutcomeScorer)", _ =>
        {
            var scorer = new OutcomeScorer(metrics);
            scorer.Configure([null]);
            return scorer;
        });
        Measure("prediction recorder (PredictionRecorder)", _ => new PredictionRecorder(log));
        AssetSeries shared = Series(spec, options, specs, bars);
        Measure("publisher with its local read slot (AssetPublisher)", i =>
        {
            var publisher = new AssetPublisher(Asset(i), shared, local, cache, NullLogger.Instance);
            publisher.Open();
            return publisher;
        });
        if (model is not null)
        {
            var served = new ModelRef("demo", "v1");
            Measure($"model binding, one model of {model.FeatureCount} inputs (ModelBinding)", i =>
            {
                var binding = new ModelBinding(Asset(i), shared);
                binding.Bind(model);
                return binding;
            });
            Measure("lineup, served version alone (ModelLineup)", _ => new ModelLineup([served], [model], null, true));
            Measure("published snapshot for the local read path (PredictionSnapshot + inputs)", _ =>
                new PredictionSnapshot(null, served, null, served, model, new float[model.FeatureCount], 1));
        }
        foreach ((string part, double bytes) in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {part}: {bytes:0} B"));
        }
    }

    private static AssetSeries Series(FeatureSet spec, GridOptions options, FeatureSpecCache specs, StoredBar[] bars)
    {
        var series = new AssetSeries(spec, options.HistoryLength, archived: false, specs.Parser);
        foreach (StoredBar bar in bars)
        {
            series.Apply(bar);
        }
        return series;
    }

    // Each copy its own asset name, as each grain has its own key; the names are made before measuring.
    private static string[] _assets = [];

    private static string Asset(int i) => _assets[i];

    // The median of three rounds: the host's own work (timers, statistics) moves the live heap a little between
    // collections, and one round can catch it.
    private static double PerCopy(Func<int, object> build)
    {
        if (_assets.Length < Copies)
        {
            _assets = [.. Enumerable.Range(0, Copies).Select(i => "P" + i.ToString(CultureInfo.InvariantCulture))];
        }
        build(0);  // code and static tables warm, not counted
        var rounds = new double[3];
        for (int round = 0; round < rounds.Length; round++)
        {
            var kept = new object[Copies];
            long before = GridMemory.Live();
            for (int i = 0; i < Copies; i++)
            {
                kept[i] = build(i);
            }
            long after = GridMemory.Live();
            GC.KeepAlive(kept);
            rounds[round] = (after - before) / (double)Copies;
        }
        Array.Sort(rounds);
        return rounds[1];
    }
}
