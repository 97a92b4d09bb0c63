using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Benchmarks;

/// <summary>
/// Managed memory per active asset grain, measured in a real host: activates a first group of grains (so code,
/// pools and tables are warm), then N more, each fed the same number of bars, and divides the growth of the
/// live managed heap (after full collections) by N. Includes everything the grid keeps per asset: Orleans'
/// activation, the streaming feature state, the bounded history and the latest values.
/// </summary>
internal static class GridMemory
{
    public static async Task<int> Run(string[] args)
    {
        var options = CliArguments.Parse(args.AsSpan(1), ["assets", "bars", "history", "features", "pushed", "scored-shadows"], ["no-model", "hold", "parts"]);
        int assets = options.OptionalInt("assets", 1, 10_000_000) ?? 5000;
        int bars = options.OptionalInt("bars", 0, 10_000_000) ?? 1000;
        int history = options.OptionalInt("history", 1, 10_000_000) ?? new Grains.GridOptions().HistoryLength;
        string features = options.Optional("features") ?? new Grains.GridOptions().Features;
        bool model = !options.Flag("no-model");
        int pushed = options.OptionalInt("pushed", 0, 100_000) ?? 0; // > 0: push a vector of that many features instead of bars
        // Set: the demo model labelled up_1 (so every grain scores it live) as the default, with that many shadows.
        int? shadows = options.OptionalInt("scored-shadows", 0, 100);
        int[] ports = FreePorts.Pick(3);
        var settings = new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:GrpcPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:SiloPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:Dashboard"] = "false",
            ["Grid:HistoryLength"] = history.ToString(CultureInfo.InvariantCulture),
            // The demo's direction model as the default: each grain computes its 8 inputs besides the 20 standard features.
            ["Grid:Features"] = features,
            // The grain's own memory: the embedded archive that retraining reads (48 bytes per bar kept) is not the grain's.
            ["Grid:Retraining:EmbeddedArchiveBars"] = "0",
        };
        string demo = Repo.File("src", "MarketIntel.Cli", "SampleData", "direction-d3-n60.json");
        if (model && shadows is null)
        {
            settings["MarketIntel:Models:0"] = demo;
        }
        await using WebApplication app = GridServer.Build(settings, logging => logging.SetMinimumLevel(LogLevel.Warning));
        string[] shadowVersions = [.. Enumerable.Range(1, shadows ?? 0).Select(i => "s" + i.ToString(CultureInfo.InvariantCulture))];
        if (shadows is not null)
        {
            LabelledModels.Seed(app, "scored", ["v0", .. shadowVersions], File.ReadAllBytes(demo), "up_1");
        }
        await app.StartAsync();
        var grains = app.Services.GetRequiredService<IGrainFactory>();
        if (shadows is not null)
        {
            var registry = grains.GetGrain<IModelRegistryGrain>(0);
            await registry.SetDefault(new ModelRef("scored", "v0"));
            foreach (string version in shadowVersions)
            {
                await registry.SetShadow(new ModelRef("scored", version), true, "grid-memory");
            }
        }
        var random = new Random(7);
        var series = new BarData[bars];
        double close = 100;
        for (int i = 0; i < bars; i++)
        {
            double next = close * Math.Exp(random.NextDouble() * 0.02 - 0.01);
            series[i] = new BarData(1_700_000_000_000L + i * 60_000L, close, Math.Max(close, next) * 1.001, Math.Min(close, next) * 0.999, next, 1000 + i);
            close = next;
        }

        if (pushed > 0)
        {
            series = [];
        }
        await Activate(grains, "W", 500, series, pushed, predict: model && pushed == 0);
        long before = Live();
        await Activate(grains, "A", assets, series, pushed, predict: model && pushed == 0);
        long after = Live();
        double perGrain = (after - before) / (double)assets;
        string fed = pushed > 0 ? $"a pushed vector of {pushed} features" : $"{bars} bars";
        string scoring = shadows is { } n ? $", scored live with {n} shadows" : "";
        Console.WriteLine($"{assets} asset grains with {fed} each, history {history}, features {(features.Length > 40 ? "default" : features)}{(model ? ", direction model" : "")}{scoring}: {(after - before) / 1048576.0:0.0} MiB of live managed heap, {perGrain / 1024:0.00} KiB per grain");
        if (shadows is not null)
        {
            // The answer checked: every grain scored the served version and each shadow on all but the last bar.
            var scores = await grains.GetGrain<IAssetGrain>("A0").GetScores();
            if (scores.Versions.Count != 1 + shadows || scores.Versions.Any(v => v.Outcomes != bars - 1))
            {
                throw new InvalidOperationException($"grain A0 scored {string.Join(", ", scores.Versions.Select(v => $"{v.Model}: {v.Outcomes}"))}; expected {1 + shadows} versions with {bars - 1} outcomes each");
            }
        }
        if (options.Flag("parts"))
        {
            Console.WriteLine($"what each part holds, {bars} bars each, built {GridMemoryParts.Copies} times outside the host with its services:");
            GridMemoryParts.Report(app.Services, [.. series.Select(b => new StoredBar(b.Timestamp, new Bar(b.Open, b.High, b.Low, b.Close, b.Volume)))],
                model && pushed == 0 ? Inference.Model.LoadFile(demo) : null);
        }
        if (options.Flag("hold"))
        {
            // The grains stay active so that a heap dump can attribute their memory by type (docs/performance.md).
            Console.WriteLine($"holding the host: dotnet-gcdump collect -p {Environment.ProcessId}; a line on stdin stops it");
            await Console.In.ReadLineAsync();
        }
        GC.KeepAlive(grains);
        await app.StopAsync();
        return 0;
    }

    private static async Task Activate(IGrainFactory grains, string prefix, int count, BarData[] series, int pushed, bool predict)
    {
        const int parallel = 64;
        for (int start = 0; start < count; start += parallel)
        {
            var calls = new List<Task>();
            for (int i = start; i < Math.Min(count, start + parallel); i++)
            {
                calls.Add(Feed(grains.GetGrain<IAssetGrain>(prefix + i.ToString(CultureInfo.InvariantCulture)), series, pushed, predict));
            }
            await Task.WhenAll(calls);
        }
    }

    private static async Task Feed(IAssetGrain grain, BarData[] series, int pushed, bool predict)
    {
        if (pushed > 0)
        {
            await grain.PushFeatures(Enumerable.Range(0, pushed).Select(i => (float)i).ToArray());
        }
        for (int i = 0; i < series.Length; i += 500)
        {
            await grain.AddBars(series[i..Math.Min(series.Length, i + 500)]);
        }
        if (predict)
        {
            await grain.Predict();
        }
    }

    internal static long Live()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
