using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Tests;

/// <summary>What every <see cref="IDriftStore"/> promises the asset grains and the drift summary, claimed once and run against each store.</summary>
public abstract class DriftStoreContract
{
    /// <summary>The store under test: empty at the start of each test.</summary>
    protected abstract IDriftStore Store { get; }

    private static DriftCounts Window(string asset, string name, string version, int count, int seed) => new(asset, new ModelRef(name, version), 10, count,
    [
        new SeriesCounts("roc_1", [count - 2 - seed % 2, 1, 1 + seed % 2], 0),
        new SeriesCounts("rsi_3", [0, count - 3], 3),
        new SeriesCounts("prediction", [count], 0),
    ]);

    private static void AssertSame(DriftCounts expected, DriftCounts actual)
    {
        Assert.Equal(expected.Asset, actual.Asset);
        Assert.Equal(expected.Model, actual.Model);
        Assert.Equal(expected.Window, actual.Window);
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.Series.Select(s => s.Name), actual.Series.Select(s => s.Name));
        Assert.Equal(expected.Series.Select(s => s.Counts.ToArray()), actual.Series.Select(s => s.Counts.ToArray()));
        Assert.Equal(expected.Series.Select(s => s.Missing), actual.Series.Select(s => s.Missing));
    }

    [Fact]
    public async Task Windows_read_back_as_written_by_asset_and_a_later_write_replaces_the_assets_window()
    {
        await Store.Save(Window("B", "dir", "v1", 10, 0));
        await Store.Save(Window("A", "dir", "v1", 7, 1));
        await Store.Save(Window("C", "ret", "r1", 10, 0));
        // Asset B now serves v2: its window for v1 is gone.
        DriftCounts moved = Window("B", "dir", "v2", 9, 1);
        await Store.Save(moved);

        IReadOnlyList<DriftCounts> dir = await Store.Read("dir");
        Assert.Equal(["A", "B"], dir.Select(w => w.Asset));
        AssertSame(Window("A", "dir", "v1", 7, 1), dir[0]);
        AssertSame(moved, dir[1]);
        Assert.Equal(["A", "B", "C"], (await Store.Read(null)).Select(w => w.Asset));
        Assert.Empty(await Store.Read("none"));
    }

    [Fact]
    public async Task A_window_whose_counts_do_not_add_up_is_refused_and_changes_nothing()
    {
        await Store.Save(Window("A", "dir", "v1", 10, 0));
        DriftCounts bad = Window("A", "dir", "v2", 10, 0) with { Count = 9 };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Store.Save(bad));
        Assert.Contains("roc_1", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => Store.Save(Window("A", "dir", "v2", 10, 0) with { Window = 5 }));
        AssertSame(Window("A", "dir", "v1", 10, 0), (await Store.Read("dir")).Single());
    }
}
