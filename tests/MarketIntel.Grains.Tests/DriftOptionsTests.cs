using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>Grid:Drift turns drift tracking off, and its settings and Grid:Quality's are checked at start, each named.</summary>
public sealed class DriftOptionsTests(DriftOptionsTests.DriftOffCluster fixture) : IClassFixture<DriftOptionsTests.DriftOffCluster>
{
    /// <summary>A one-silo cluster with Grid:Drift:Enabled false and a store the test reads.</summary>
    public sealed class DriftOffCluster : DriftCluster<DriftOffCluster>
    {
        protected override void Grid(GridOptions options)
        {
            options.Drift.Enabled = false;
            options.Drift.Window = 10;
            options.Drift.FlushInterval = TimeSpan.FromMilliseconds(10);
        }
    }

    [Fact]
    public async Task With_drift_off_no_window_is_kept_or_stored_and_the_bars_quality_is_still_judged()
    {
        var profile = DriftSeries.Profile(DriftSeries.Walk(seed: 1, count: 500, sigma: 0.01));
        byte[] bytes = DriftSeries.Model(out var model);
        model.Dispose();
        await fixture.Cluster.Client.GetGrain<IModelRegistryGrain>(0).Register(new ModelRegistration("off", "v1", bytes, DriftSeries.Lineage(profile), null, null, "test"));
        IAssetGrain asset = fixture.Cluster.Client.GetGrain<IAssetGrain>("off-" + Guid.NewGuid().ToString("N"));
        await asset.AssignModel(new ModelRef("off", "v1"));
        await asset.AddBars(DriftSeries.Bars(DriftSeries.Walk(seed: 2, count: 50, sigma: 0.01), 0, 50));
        await Task.Delay(100);  // ten flush intervals: a window would have been stored

        AssetDrift drift = await asset.GetDrift();
        Assert.Equal(DriftStatus.Disabled, drift.Status);
        Assert.Equal(0, drift.Count);
        Assert.Empty(drift.Features);
        Assert.Equal(50, drift.Quality.Bars);
        Assert.Empty(await DriftOffCluster.Store.Read(null));
    }

    [Fact]
    public void Drift_and_quality_settings_out_of_range_are_refused_by_name()
    {
        var options = new GridOptions();
        options.Drift.Window = 1;
        options.Drift.Alpha = 1;
        options.Drift.FlushInterval = TimeSpan.Zero;
        options.Drift.EvaluateEveryBars = 0;
        options.Quality.StaleBars = 1;
        var result = new GridOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
        [
            "Grid:Drift:Window 1 must be between 2 and 100000",
            "Grid:Drift:Alpha 1 must be between 0 and 1 (exclusive)",
            "Grid:Drift:FlushInterval 00:00:00 must be between 00:00:00.010 and 01:00:00",
            "Grid:Drift:EvaluateEveryBars 0 must be between 1 and 1000000",
            "Grid:Quality:StaleBars 1 must be from 2 to 1000000 bars",
        ], result.Failures);
    }
}
