using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// <c>marketintel drift</c> against a running grid: the summary it prints and the report it writes come from the grid's
/// drift API (<c>Drift.GetSummary</c> and <c>Drift.Scan</c>) over the assets' stored windows.
/// </summary>
public sealed class DriftCommandTests : CliTestBase, IAsyncLifetime
{
    private InProcessGrid _grid = null!;

    public async Task InitializeAsync()
    {
        _grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["Grid:Drift:Window"] = "100",
            ["Grid:Drift:FlushInterval"] = "00:00:00.100",
        });
        var grains = _grid.App.Services.GetRequiredService<IGrainFactory>();
        byte[] bytes = DriftSeries.Model(out var model);
        model.Dispose();
        var profile = DriftSeries.Profile(DriftSeries.Walk(seed: 1, count: 4000, sigma: 0.01));
        await grains.GetGrain<IModelRegistryGrain>(0).Register(new ModelRegistration("walk", "v1", bytes, DriftSeries.Lineage(profile), null, null, "test"));
        foreach (var (asset, sigma) in new[] { ("CALM", 0.01), ("WILD", 0.03) })
        {
            IAssetGrain grain = grains.GetGrain<IAssetGrain>(asset);
            await grain.AssignModel(new ModelRef("walk", "v1"));
            BarSeries walk = DriftSeries.Walk(seed: 3, count: 200, sigma);
            await grain.AddBars(DriftSeries.Bars(walk, 0, 200));
        }
        // The windows reach the store within a flush interval.
        var store = _grid.App.Services.GetRequiredService<Abstractions.Storage.IDriftStore>();
        for (int i = 0; i < 200 && (await store.Read("walk")).Count(w => w.Count == 100) < 2; i++)
        {
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync() => await _grid.DisposeAsync();

    [Fact]
    public async Task The_command_prints_the_grids_summary_and_writes_the_report_of_its_scan()
    {
        string report = Path.Combine(Dir, "report");
        var (code, stdout, stderr) = await Task.Run(() => Run("drift", "--target", _grid.GrpcTarget, "--report", report));
        Assert.True(code == 0, stderr);
        Assert.Contains("walk", stdout, StringComparison.Ordinal);
        Assert.Contains("(2 assets)", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(report, "report.md")));
        Assert.True(File.Exists(Path.Combine(report, "heatmap.svg")));
        string[] csv = File.ReadAllLines(Path.Combine(report, "drift.csv"));
        Assert.Contains(csv, line => line.StartsWith("WILD,", StringComparison.Ordinal) && line.Contains("roc_1", StringComparison.Ordinal));
        Assert.Contains(csv, line => line.StartsWith("CALM,", StringComparison.Ordinal) && line.Contains("roc_1", StringComparison.Ordinal));
    }
}
