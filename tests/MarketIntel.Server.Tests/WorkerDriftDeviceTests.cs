using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Gpu.Devices;
using MarketIntel.Gpu.Drift;
using MarketIntel.Grains;
using MarketIntel.Grains.Drift;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using AssetDrift = MarketIntel.Abstractions.Models.AssetDrift;
using Bar = MarketIntel.Api.V1.Bar;

namespace MarketIntel.Server.Tests;

/// <summary>
/// A worker silo started with <c>--device cpu</c> (ILGPU's CPU accelerator: the kernels themselves) runs the retraining
/// watch's drift scan through the device, with the CPU path's results; a device that fails during a scan leaves the
/// scan to the CPU with a warning, and bad counts fail as on the CPU without touching the device.
/// </summary>
/// <remarks>In the "server" collection: its host predicts with the bundled model in this process, whose metrics are
/// prometheus-net's process-wide registry, and MetricsTests counts that version's predictions exactly.</remarks>
[Collection("server")]
public sealed class WorkerDriftDeviceTests
{
    // GpuDriftScan's stated tolerance (docs/gpu.md): 1e-9 relative, and 1e-7 absolute more for Jensen-Shannon.
    private const double Relative = 1e-9;

    private static readonly ReferenceProfile Profile = DriftSeries.Profile(DriftSeries.Walk(seed: 1, count: 4000, sigma: 0.01));

    [Fact]
    public async Task A_worker_with_device_cpu_runs_the_watchs_drift_scan_on_the_device_with_the_cpu_paths_results()
    {
        await using InProcessGrid grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["MarketIntel:Role"] = "all",
            ["MarketIntel:Device"] = "cpu",
            ["Grid:Drift:Window"] = "100",
            ["Grid:Drift:EvaluateEveryBars"] = "10",
            ["Grid:Drift:FlushInterval"] = "00:00:00.100",
            // The scan is what is under test: no job is started from what it finds.
            ["Grid:Retraining:Triggers:DriftingAssets"] = "1000",
        });
        IServiceProvider services = grid.App.Services;
        var scans = services.GetRequiredService<SiloDriftScans>();
        Assert.StartsWith("ilgpu-cpu:", scans.Device, StringComparison.Ordinal);

        using var channel = grid.Channel();
        var models = new Models.ModelsClient(channel);
        var gridClient = new Grid.GridClient(channel);
        string model = Bars.NewAsset("device");
        byte[] bytes = DriftSeries.Model(out var loaded);
        loaded.Dispose();
        await models.RegisterAsync(new RegisterVersionRequest { Name = model, Version = "v1", Model = Google.Protobuf.ByteString.CopyFrom(bytes), Lineage = DriftSeries.Lineage(Profile) });
        string calm = await Asset(gridClient, model, 0.01), wild = await Asset(gridClient, model, 0.03);

        // The windows reach the store within a flush interval of the bars.
        var store = services.GetRequiredService<IDriftStore>();
        for (int i = 0; i < 600 && (await store.Read(model)).Count(w => w.Count == w.Window) < 2; i++)
        {
            await Task.Delay(50);
        }
        Assert.Equal(2, (await store.Read(model)).Count(w => w.Count == w.Window));

        long before = scans.DeviceScans;
        RetrainWatchReport? report = await services.GetRequiredService<IGrainFactory>().GetGrain<IRetrainWatchGrain>(0)
            .Check(DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds());
        Assert.NotNull(report);
        Assert.DoesNotContain(report.Held, h => h.Contains("drift scan failed", StringComparison.Ordinal));
        Assert.True(scans.DeviceScans > before, $"the watch's scan did not run on the device ({scans.DeviceScans} device scans, {before} before it)");
        Assert.Equal(0, scans.Fallbacks);

        // The same windows through the device and through the CPU path: the same statuses and flags, statistics within tolerance.
        double alpha = services.GetRequiredService<IOptions<GridOptions>>().Value.Drift.Alpha;
        var cache = services.GetRequiredService<SiloModelCache>();
        var onDevice = await DriftScanner.Scan(store, cache, scans, model, alpha);
        var onCpu = await DriftScanner.Scan(store, cache, SiloDriftScans.Cpu, model, alpha);
        Assert.Equal(onCpu.Select(s => s.Drift.Asset), onDevice.Select(s => s.Drift.Asset));
        for (int i = 0; i < onCpu.Count; i++)
        {
            AssetDrift expected = onCpu[i].Drift, actual = onDevice[i].Drift;
            Assert.Equal((expected.Status, expected.Drifting), (actual.Status, actual.Drifting));
            SeriesDrift[] expectedSeries = [.. expected.Features, expected.Prediction!], actualSeries = [.. actual.Features, actual.Prediction!];
            for (int s = 0; s < expectedSeries.Length; s++)
            {
                Same(expectedSeries[s], actualSeries[s], $"{expected.Asset} {expectedSeries[s].Name}");
            }
        }
        Assert.True(onDevice.Single(s => s.Drift.Asset == wild).Drift.Drifting);
        Assert.False(onDevice.Single(s => s.Drift.Asset == calm).Drift.Drifting);
    }

    [Fact]
    public void A_device_that_fails_during_a_scan_leaves_it_to_the_cpu_with_a_warning_and_bad_counts_fail_as_on_the_cpu()
    {
        var layout = new DriftScan(DriftScanner.Series(Profile));
        const int assets = 5;
        var random = new Random(11);
        int[] counts = [.. Enumerable.Range(0, layout.Rows * assets).Select(_ => random.Next(0, 30))];
        var missing = new int[layout.Series.Count * assets];
        missing[3] = 4;
        DriftScanResult cpu = layout.Scan(counts, missing, assets, 0.01);

        var log = new RecordingLogger<SiloDriftScans>();
        GpuDevice device = GpuDevice.Open(DeviceChoice.Cpu)!;
        var scans = new SiloDriftScans(log, new GpuDriftScanEngine(device));
        DriftScanResult onDevice = scans.Scan(layout, counts, missing, assets, 0.01);
        Assert.Equal((1L, 0L), (scans.DeviceScans, scans.Fallbacks));
        Same(cpu, onDevice);

        // Bad counts are the caller's fault, not the device's: the CPU scan's error, and no fallback.
        int[] negative = [.. counts];
        negative[7] = -2;
        var expectedError = Assert.Throws<ArgumentException>(() => layout.Scan(negative, missing, assets, 0.01));
        var error = Assert.Throws<ArgumentException>(() => scans.Scan(layout, negative, missing, assets, 0.01));
        Assert.Equal(expectedError.Message, error.Message);
        Assert.Equal((1L, 0L), (scans.DeviceScans, scans.Fallbacks));
        Assert.Empty(log.Entries);

        // The device goes away (as a GPU lost under the process would): the scan still answers, from the CPU.
        device.Dispose();
        DriftScanResult fallen = scans.Scan(layout, counts, missing, assets, 0.01);
        Assert.Equal((1L, 1L), (scans.DeviceScans, scans.Fallbacks));
        Same(cpu, fallen);
        Assert.Equal(cpu.Psi, fallen.Psi);
        var warning = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"failed on device {device.Description}; it ran on the CPU instead", warning.Message, StringComparison.Ordinal);
        Assert.NotNull(warning.Exception);
    }

    private static async Task<string> Asset(Grid.GridClient grid, string model, double sigma)
    {
        string asset = Bars.NewAsset("drift");
        await grid.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = model, Version = "v1" });
        BarSeries walk = DriftSeries.Walk(seed: 3, count: 300, sigma);
        IEnumerable<Bar> messages = DriftSeries.Bars(walk, 0, 300).Select(b => new Bar { Timestamp = b.Timestamp, Open = b.Open, High = b.High, Low = b.Low, Close = b.Close, Volume = b.Volume });
        Assert.Equal(300, (await Bars.Ingest(grid, asset, messages, perMessage: 50)).Accepted);
        return asset;
    }

    private static void Same(SeriesDrift expected, SeriesDrift actual, string what)
    {
        Assert.Equal((expected.Name, expected.Count, expected.DegreesOfFreedom, expected.Drifting), (actual.Name, actual.Count, actual.DegreesOfFreedom, actual.Drifting));
        Assert.Equal(expected.MissingRate, actual.MissingRate);
        Close(expected.Psi, actual.Psi, 0, $"{what} PSI");
        Close(expected.JensenShannon, actual.JensenShannon, 1e-7, $"{what} Jensen-Shannon");
        Close(expected.Wasserstein, actual.Wasserstein, 0, $"{what} Wasserstein");
        Close(expected.ChiSquare, actual.ChiSquare, 0, $"{what} chi-square");
        Close(expected.PValue, actual.PValue, 0, $"{what} p-value");
    }

    private static void Same(DriftScanResult expected, DriftScanResult actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.DegreesOfFreedom, actual.DegreesOfFreedom);
        Assert.Equal(expected.Drifting, actual.Drifting);
        for (int i = 0; i < expected.Psi.Length; i++)
        {
            Close(expected.Psi[i], actual.Psi[i], 0, $"cell {i} PSI");
            Close(expected.JensenShannon[i], actual.JensenShannon[i], 1e-7, $"cell {i} Jensen-Shannon");
            Close(expected.Wasserstein[i], actual.Wasserstein[i], 0, $"cell {i} Wasserstein");
            Close(expected.ChiSquare[i], actual.ChiSquare[i], 0, $"cell {i} chi-square");
            Close(expected.PValue[i], actual.PValue[i], 0, $"cell {i} p-value");
        }
    }

    private static void Close(double expected, double actual, double absolute, string what) =>
        Assert.True(double.IsNaN(expected) ? double.IsNaN(actual) : Math.Abs(expected - actual) <= absolute + (Relative * Math.Abs(expected)),
            $"{what}: {actual} on the device, {expected} on the CPU");
}
