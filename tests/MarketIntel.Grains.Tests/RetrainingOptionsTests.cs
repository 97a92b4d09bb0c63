using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Grains.Retraining;

namespace MarketIntel.Grains.Tests;

/// <summary>Grid:Retraining's settings are checked at start, each named; the embedded archive keeps what it is told to.</summary>
public sealed class RetrainingOptionsTests
{
    [Fact]
    public void Retraining_settings_out_of_range_are_refused_by_name()
    {
        var options = new RetrainingOptions
        {
            MinimumInterval = TimeSpan.FromSeconds(-1), CheckInterval = TimeSpan.Zero, Folds = 1, ProfileBins = 255, MaxBarsPerAsset = 0, Threads = -1, EmbeddedArchiveBars = -1,
        };
        var result = new RetrainingOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
            [
                "Grid:Retraining:MinimumInterval -00:00:01 must be between 00:00:00 and 365.00:00:00",
                "Grid:Retraining:CheckInterval 00:00:00 must be between 00:00:00.010 and 01:00:00",
                "Grid:Retraining:Folds 1 must be between 2 and 100",
                "Grid:Retraining:ProfileBins 255 must be between 2 and 254",
                "Grid:Retraining:MaxBarsPerAsset 0 must be between 1 and 10000000",
                "Grid:Retraining:Threads -1 must be between 0 (one per core the process may use) and 1024",
                "Grid:Retraining:EmbeddedArchiveBars -1 must be between 0 (none kept) and 10000000",
            ],
            result.Failures);
        Assert.True(new RetrainingOptionsValidator().Validate(null, new RetrainingOptions()).Succeeded);
    }

    private static StoredBar[] Bars(params long[] times) => [.. times.Select(t => new StoredBar(t, new Bar(1, 2, 0.5, 1.5, 10)))];

    private static async Task<long[]> Read(IBarArchive archive, string asset, long after = long.MinValue)
    {
        var times = new List<long>();
        await foreach (StoredBar bar in archive.Read(asset, after))
        {
            times.Add(bar.Timestamp);
        }
        return [.. times];
    }

    [Fact]
    public async Task The_embedded_archive_keeps_each_assets_most_recent_bars_skips_those_it_has_and_is_never_durable()
    {
        var archive = new InMemoryBarArchive(4);
        Assert.False(archive.IsDurable);
        await archive.Append("A", 0, Bars(1, 2, 3));
        await archive.Append("A", 0, Bars(2, 3, 4, 5, 6));
        await archive.Append("B", 0, Bars(10));
        Assert.Equal(new long[] { 3, 4, 5, 6 }, await Read(archive, "A"));
        Assert.Equal(new long[] { 5, 6 }, await Read(archive, "A", after: 4));
        Assert.Equal(new long[] { 10 }, await Read(archive, "B"));
        Assert.Empty(await Read(archive, "C"));
        Assert.Null(await archive.ReadCheckpoint("A"));

        var none = new InMemoryBarArchive(0);
        await none.Append("A", 0, Bars(1, 2));
        Assert.Empty(await Read(none, "A"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryBarArchive(-1));
    }

    [Fact]
    public async Task The_embedded_archive_grows_with_the_bars_it_keeps_and_stops_growing_at_its_total()
    {
        // Rings start at 64 bars and double up to the asset's limit (200 here), within 300 bars in all.
        var archive = new InMemoryBarArchive(200, totalBars: 300);
        await archive.Append("A", 0, Bars(1));
        Assert.Equal(64, archive.Reserved);   // one bar costs a small ring, not the asset's limit
        await archive.Append("A", 0, Bars([.. Enumerable.Range(2, 149).Select(i => (long)i)]));
        Assert.Equal(200, archive.Reserved);  // 64, 128, then the limit of 200
        Assert.Equal(Enumerable.Range(1, 150).Select(i => (long)i), await Read(archive, "A"));

        await archive.Append("B", 0, Bars([.. Enumerable.Range(1, 70).Select(i => (long)i)]));
        // B got 64 slots and could not double (200 + 128 > 300): it keeps its newest 64 bars.
        Assert.Equal(264, archive.Reserved);
        Assert.Equal(Enumerable.Range(7, 64).Select(i => (long)i), await Read(archive, "B"));
        await archive.Append("C", 0, Bars(1, 2));
        Assert.Empty(await Read(archive, "C"));   // no room left for a new ring
        await archive.Append("A", 0, Bars([.. Enumerable.Range(151, 100).Select(i => (long)i)]));
        Assert.Equal(Enumerable.Range(51, 200).Select(i => (long)i), await Read(archive, "A"));
        Assert.Equal(264, archive.Reserved);
    }
}
