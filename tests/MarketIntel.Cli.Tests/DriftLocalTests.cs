using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// <c>marketintel drift --model MODEL.json --data BARS</c>: the drift scan done in the command's process, with the model
/// trained on the bundled MSFT bars by <c>train</c> (its lineage carries the training rows' profile) and two bundled
/// series as the assets: MSFT's bars, and the DAX closes as a close-only file.
/// </summary>
public sealed partial class DriftLocalTests : CliTestBase
{
    private const string Spec = "rsi_14,roc_5,zscore_20";

    [Fact]
    public async Task The_scan_here_is_the_grids_scan_of_the_same_bars_served_with_the_same_model()
    {
        var (model, bars) = Prepare();
        await using InProcessGrid grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["MarketIntel:Models:0"] = model,
            ["Grid:Drift:Window"] = "100",
            ["Grid:Drift:FlushInterval"] = "00:00:00.100",
        });
        foreach (string file in Directory.GetFiles(bars))
        {
            var (code, _, err) = await Task.Run(() => Run("ingest", "--target", grid.GrpcTarget, "--asset", Path.GetFileNameWithoutExtension(file), "--file", file));
            Assert.True(code == 0, err);
        }
        // Each asset's grain stores its window within a flush interval of its one IngestBars call.
        var store = grid.App.Services.GetRequiredService<Abstractions.Storage.IDriftStore>();
        for (int i = 0; i < 200 && (await store.Read("M")).Count(w => w.Count == 100) < 2; i++)
        {
            await Task.Delay(50);
        }

        var (gridCode, gridOut, gridErr) = await Task.Run(() => Run("drift", "--target", grid.GrpcTarget, "--report", Path.Combine(Dir, "grid")));
        Assert.True(gridCode == 0, gridErr);
        var (localCode, localOut, localErr) = await Task.Run(() => Run("drift", "--model", model, "--data", bars, "--window", "100", "--report", Path.Combine(Dir, "local")));
        Assert.True(localCode == 0, localErr);

        // The same summary, and the same statistics of every asset x feature (a window other than the last 100 bars,
        // or other bins, would change them); the worst offenders' histograms draw the same live and reference counts.
        Assert.Equal(SummaryLines(gridOut), SummaryLines(localOut));
        string csv = File.ReadAllText(Path.Combine(Dir, "grid", "drift.csv"));
        Assert.Equal(csv, File.ReadAllText(Path.Combine(Dir, "local", "drift.csv")));
        string[] histograms = [.. Directory.GetFiles(Path.Combine(Dir, "grid"), "histogram-*.svg").Select(Path.GetFileName).OfType<string>()];
        Assert.NotEmpty(histograms);
        foreach (string histogram in histograms)
        {
            Assert.Equal(Svg(Path.Combine(Dir, "grid", histogram)), Svg(Path.Combine(Dir, "local", histogram)));
        }
        // What the comparison rests on: both assets judged on full windows with numbers, against model M's profile.
        string[] rows = [.. csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)];
        Assert.Equal(6, rows.Length);
        Assert.All(rows, row => Assert.Matches(@"^(DAX|MSFT),M,[0-9a-f]{12},ok,100,100,[a-z0-9_]+,\d", row));
        Assert.StartsWith("M  ", SummaryLines(localOut)[1], StringComparison.Ordinal);
    }

    [Fact]
    public void The_scan_on_ilgpus_cpu_accelerator_gives_the_cpu_paths_counts_flags_and_statistics()
    {
        var (model, bars) = Prepare();
        var (code, cpu, err) = Run("drift", "--model", model, "--data", bars, "--window", "60", "--report", Path.Combine(Dir, "cpu"));
        Assert.True(code == 0, err);
        (code, string kernels, err) = Run("drift", "--model", model, "--data", bars, "--window", "60", "--device", "cpu", "--report", Path.Combine(Dir, "kernels"));
        Assert.True(code == 0, err);

        Assert.Contains("device: ilgpu-cpu:", kernels, StringComparison.Ordinal);
        Assert.DoesNotContain("ran on the CPU paths instead", kernels, StringComparison.Ordinal);
        // The drifting counts per version and feature are the same; the worst PSI is printed to 4 places.
        Assert.Equal(SummaryLines(cpu), SummaryLines(kernels));
        string[][] expected = Csv(Path.Combine(Dir, "cpu", "drift.csv")), actual = Csv(Path.Combine(Dir, "kernels", "drift.csv"));
        Assert.Equal(7, expected.Length);
        Assert.Equal(expected.Length, actual.Length);
        string[] header = expected[0];
        for (int r = 1; r < expected.Length; r++)
        {
            for (int c = 0; c < header.Length; c++)
            {
                string want = expected[r][c], got = actual[r][c];
                if (header[c] is "psi" or "js" or "wasserstein" or "chi_square" or "p_value" or "missing_rate" && want.Length > 0)
                {
                    double a = double.Parse(want, CultureInfo.InvariantCulture), b = double.Parse(got, CultureInfo.InvariantCulture);
                    Assert.True(Math.Abs(a - b) <= 1e-9 * Math.Max(Math.Abs(a), Math.Abs(b)), $"{expected[r][0]} {expected[r][6]} {header[c]}: {want} on the CPU paths, {got} on the accelerator");
                }
                else
                {
                    // Names, status, window, count, degrees of freedom, the drifting flag; a missing number on both.
                    Assert.Equal($"{header[c]} {want}", $"{header[c]} {got}");
                }
            }
        }
        Assert.Contains(expected.Skip(1), row => row[7].Length > 0 && double.Parse(row[7], CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public void The_modes_options_are_usage_errors_naming_what_is_wrong_before_anything_is_written()
    {
        var (model, bars) = Prepare();
        string report = Path.Combine(Dir, "never");
        void Refused(string expected, params string[] args)
        {
            var (code, stdout, err) = Run(["drift", .. args, "--report", report]);
            Assert.Equal(2, code);
            Assert.Equal("", stdout);
            Assert.Contains(expected, err, StringComparison.Ordinal);
            Assert.Single(err.Trim().Split('\n'));
            Assert.False(Directory.Exists(report));
        }

        Refused("give --target (a running grid's drift) or --model (a scan of bar files here), not both", "--target", "grpc://127.0.0.1:1", "--model", model, "--data", bars);
        Refused("give --target URL for a running grid's drift, or --model MODEL.json with --data BARS", "--data", bars);
        Refused("--device does not go with --target: the grid's silos choose their device", "--target", "grpc://127.0.0.1:1", "--device", "cpu");
        Refused("--data does not go with --target", "--target", "grpc://127.0.0.1:1", "--data", bars);
        Refused("--name does not go with --model", "--model", model, "--data", bars, "--name", "M");
        Refused("missing required option '--data'", "--model", model);
        string empty = Directory.CreateDirectory(Path.Combine(Dir, "empty")).FullName;
        Refused($"--data: folder '{empty}' holds no .csv bar files", "--model", model, "--data", empty);

        // A model without a reference profile: no lineage beside it, or a lineage that carries none.
        string bare = Path.Combine(Dir, "bare.json");
        File.Copy(model, bare);
        Refused($"{bare}: no reference profile to measure drift against: its lineage '{bare}.lineage.json' does not exist", "--model", bare, "--data", bars);
        var lineage = JsonNode.Parse(File.ReadAllText(model + ".lineage.json"))!.AsObject();
        lineage.Remove("profile");
        string noProfile = Path.Combine(Dir, "no-profile.lineage.json");
        File.WriteAllText(noProfile, lineage.ToJsonString());
        Refused($"{noProfile}: the lineage of {model} carries no reference profile (key 'profile')", "--model", model, "--lineage", noProfile, "--data", bars);

        // Bars out of time order, named by file and line.
        string shuffled = Path.Combine(Dir, "shuffled.csv");
        File.WriteAllLines(shuffled, ["timestamp,close", "2001-01-03,10", "2001-01-02,11"]);
        Refused($"{shuffled}:3:1: bar time 2001-01-02 is not after the bar before it (2001-01-03)", "--model", model, "--data", shuffled);
    }

    [Fact]
    public void A_device_that_fails_during_the_scan_hands_it_to_the_cpu_paths_and_says_so()
    {
        var profile = Training.ProfileRows.Build(["x"], [.. Enumerable.Range(0, 200).Select(i => (float)i)], null, "test rows", bins: 4);
        var window = new Abstractions.Models.DriftCounts("A", new Abstractions.ModelRef("m", "v"), 40, 40, [new Abstractions.Models.SeriesCounts("x", [25, 5, 5, 5], 0)]);
        // A device closed before the scan fails at its first allocation.
        Gpu.Devices.GpuDevice device = Gpu.Devices.GpuDevice.Open(Gpu.Devices.DeviceChoice.Cpu)!;
        device.Dispose();
        var stdout = new StringWriter();

        var (evaluated, where) = Commands.DriftLocalScan.Evaluate([window], profile, 0.01, device, stdout);

        Assert.Contains($"device: the scan failed on {device.Description} and ran on the CPU paths instead", stdout.ToString(), StringComparison.Ordinal);
        Assert.Equal(Commands.DeviceOption.Describe(null), where);
        Abstractions.Models.SeriesDrift expected = Grains.Drift.DriftScanner.Evaluate(window, profile, 0.01).Features[0];
        Assert.Equal(expected, evaluated[0].Features[0]);
        Assert.True(expected.Drifting);
    }

    // The model M.json trained on MSFT's rows (its lineage with their profile, 8 bins a series), and a folder of two
    // assets' bars: MSFT.csv and DAX.csv (the last 300 DAX closes, close-only).
    private (string Model, string Bars) Prepare()
    {
        string rows = Path.Combine(Dir, "T.csv"), model = Path.Combine(Dir, "M.json"), bars = Path.Combine(Dir, "bars");
        var (code, _, err) = Run("features", "--input", RepoPaths.Data("msft-daily.csv"), "--spec", Spec, "--label", "up_1", "--output", rows);
        Assert.True(code == 0, err);
        (code, _, err) = Run("train", "--input", rows, "--label", "up_1", "--rounds", "8", "--max-depth", "3", "--profile-bins", "8", "--output", model);
        Assert.True(code == 0, err);
        Directory.CreateDirectory(bars);
        File.Copy(RepoPaths.Data("msft-daily.csv"), Path.Combine(bars, "MSFT.csv"));
        string[] dax = File.ReadAllLines(RepoPaths.Data("eustockmarkets-daily.csv"));
        File.WriteAllLines(Path.Combine(bars, "DAX.csv"), ["timestamp,close", .. dax[^300..].Select(line => string.Join(',', line.Split(',')[..2]))]);
        return (model, bars);
    }

    // The summary table as printed, without the device banner and the report's line.
    private static List<string> SummaryLines(string stdout) =>
        [.. stdout.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith("device: ", StringComparison.Ordinal) && !l.StartsWith("wrote ", StringComparison.Ordinal))];

    private static string[][] Csv(string file) => [.. File.ReadAllLines(file).Select(line => line.Split(','))];

    // The plotting library numbers its SVG clip paths by a counter of the process, not by the data.
    private static string Svg(string file) => ClipPath().Replace(File.ReadAllText(file), "cl_N");

    [GeneratedRegex(@"\bcl_[0-9a-f]+\b")]
    private static partial Regex ClipPath();
}
