using System.Diagnostics;
using System.Globalization;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Series;
using MarketIntel.Storage.Postgres.Migrations;
using MarketIntel.Storage.Postgres.Storage;
using Npgsql;

namespace MarketIntel.Benchmarks;

/// <summary>
/// What an asset's activation costs in cluster mode with a long archive: its bars are read back from PostgreSQL and
/// fed to the streaming features (the grid's default spec), once from the first bar and once from a checkpoint taken
/// <c>--tail</c> bars before the end. Prints the times of each and checks the two end bit for bit equal.
/// benchmarks/recovery/run.sh starts the PostgreSQL it runs against.
/// </summary>
internal static class ActivationReplay
{
    public static async Task<int> Run(string[] args)
    {
        var options = CliArguments.Parse(args.AsSpan(1), ["postgres", "bars", "tail", "runs"]);
        string connection = options.Required("postgres");
        int bars = options.OptionalInt("bars", 1000, 100_000_000) ?? 1_000_000;
        int tail = options.OptionalInt("tail", 0, bars - 1) ?? 5_000;
        int runs = options.OptionalInt("runs", 1, 100) ?? 3;
        await using var database = NpgsqlDataSource.Create(connection);
        await Migrator.MigrateAsync(database);
        await using var archive = new PostgresBarArchive(database, batchRows: 20_000, writers: 2, maxQueuedRows: 1_000_000);
        const string Asset = "LONG";
        FeatureSet spec = FeatureSet.Parse(new Grains.GridOptions().Features);

        StoredBar[] walk = Walk(bars);
        long epoch = await archive.Claim(Asset);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(walk.Chunk(20_000).Select(chunk => archive.Append(Asset, epoch, chunk)));
        Console.WriteLine($"archived {bars:N0} bars in {clock.Elapsed.TotalSeconds:0.0} s; spec: {spec.Count} features");

        // The checkpoint an asset would have written tail bars before the end.
        var writer = new AssetSeries(spec, 128, archived: true);
        foreach (StoredBar bar in walk.AsSpan(0, bars - tail))
        {
            writer.Apply(bar);
        }
        byte[] state = writer.Checkpoint()!;
        clock.Restart();
        for (int i = 0; i < 1000; i++)
        {
            writer.Checkpoint();
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"taking a checkpoint (in the grain's turn, before the write that is not waited for): {clock.Elapsed.TotalMilliseconds:0} µs each"));
        await archive.SaveCheckpoint(Asset, epoch, writer.LastTimestamp, state);
        Console.WriteLine($"checkpoint after bar {bars - tail:N0}: {state.Length:N0} bytes");

        double[]? full = null, continued = null;
        for (int run = 1; run <= runs; run++)
        {
            var series = new AssetSeries(spec, 128, archived: true);
            clock.Restart();
            int read = await series.Replay(archive.Read(Asset));
            double fullSeconds = clock.Elapsed.TotalSeconds;
            full = series.Values.ToArray();

            series = new AssetSeries(spec, 128, archived: true);
            clock.Restart();
            byte[] checkpoint = (await archive.ReadCheckpoint(Asset))!.State;
            int? after = await series.ReplayAfter(checkpoint, t => archive.Read(Asset, t));
            double checkpointSeconds = clock.Elapsed.TotalSeconds;
            continued = series.Values.ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {run}: every bar: {read:N0} bars in {fullSeconds:0.000} s; from the checkpoint: {after:N0} bars in {checkpointSeconds:0.000} s ({fullSeconds / checkpointSeconds:0}x less)"));
        }
        bool same = full!.Zip(continued!).All(p => BitConverter.DoubleToInt64Bits(p.First) == BitConverter.DoubleToInt64Bits(p.Second));
        Console.WriteLine(same ? "the two end bit for bit equal" : "MISMATCH between the two");
        return same ? 0 : 1;
    }

    // A random walk of one-minute bars.
    private static StoredBar[] Walk(int count)
    {
        var random = new Random(5);
        var bars = new StoredBar[count];
        double price = 100;
        for (int i = 0; i < count; i++)
        {
            double open = price;
            price *= Math.Exp(0.001 * (random.NextDouble() - 0.5));
            double high = Math.Max(open, price) * (1 + 0.0005 * random.NextDouble()), low = Math.Min(open, price) * (1 - 0.0005 * random.NextDouble());
            bars[i] = new StoredBar(1_600_000_000_000L + i * 60_000L, new Bar(open, high, low, price, 1000 + random.Next(5000)));
        }
        return bars;
    }
}
