using System.Text.RegularExpressions;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// <c>marketintel drift</c> against a running grid: the summary it prints and the report it writes come from the grid's
/// drift API (<c>Drift.GetSummary</c> and <c>Drift.Scan</c> over gRPC, <c>GET /drift</c> over HTTP) over the assets'
/// stored windows.
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

    [Fact]
    public async Task The_summary_and_the_report_are_the_same_over_http_as_over_grpc()
    {
        // What each way printed (the summary alone, then with the report) and wrote, the target, the folder and the
        // moment it read aside.
        (List<string> Printed, SortedDictionary<string, string> Files) Drift(string scheme, string target)
        {
            string report = Path.Combine(Dir, "report-" + scheme);
            var printed = new List<string>();
            string[][] runs = [["--name", "walk"], ["--report", report]];
            foreach (string[] args in runs)
            {
                var (code, stdout, err) = Run(["drift", "--target", target, .. args]);
                Assert.True(code == 0, $"{scheme} {string.Join(' ', args)}: {err}");
                printed.Add(stdout.Replace(report, "REPORT", StringComparison.Ordinal));
            }
            var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (string file in Directory.GetFiles(report))
            {
                string text = File.ReadAllText(file).Replace(target, "TARGET", StringComparison.Ordinal);
                text = Regex.Replace(text, @"read \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "read T UTC");
                // The plotting library numbers its SVG clip paths by a counter of the process (in hex), not by the data.
                files[Path.GetFileName(file)] = Regex.Replace(text, @"\bcl_[0-9a-f]+\b", "cl_N");
            }
            return (printed, files);
        }
        var overGrpc = await Task.Run(() => Drift("grpc", _grid.GrpcTarget));
        var overHttp = await Task.Run(() => Drift("http", _grid.Http("")));
        Assert.Equal(overGrpc.Printed, overHttp.Printed);
        Assert.Equal(overGrpc.Files.Keys, overHttp.Files.Keys);
        foreach (var (file, text) in overGrpc.Files)
        {
            Assert.True(text == overHttp.Files[file], $"{file} differs over http:\n{overHttp.Files[file]}\nover grpc:\n{text}");
        }
        // What the comparison rests on: the summary named the model, the report drew histograms from the scan's counts,
        // and the normalising above left the plots' content alone.
        Assert.Contains("walk", overGrpc.Printed[0], StringComparison.Ordinal);
        Assert.Contains("(2 assets)", overGrpc.Printed[1], StringComparison.Ordinal);
        Assert.Contains("histogram-1.svg", overHttp.Files.Keys);
        Assert.Contains("read T UTC", overHttp.Files["report.md"], StringComparison.Ordinal);
        Assert.Contains("PSI by asset and feature (2 of 2 assets)", overHttp.Files["heatmap.svg"], StringComparison.Ordinal);
        Assert.Contains(overHttp.Files["drift.csv"].Split('\n'), line => line.StartsWith("WILD,", StringComparison.Ordinal) && line.Contains("roc_1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("grpc", "InvalidArgument")]
    [InlineData("http", "400")]
    public async Task A_bad_model_name_is_one_line_naming_it_and_exits_2(string scheme, string status)
    {
        string target = scheme == "grpc" ? _grid.GrpcTarget : _grid.Http("");
        string report = Path.Combine(Dir, "refused-" + scheme);
        var (code, stdout, err) = await Task.Run(() => Run("drift", "--target", target, "--name", "no such", "--report", report));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains($"{target}: {status}: name: 'no such' has ' '", err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(report));
    }
}
