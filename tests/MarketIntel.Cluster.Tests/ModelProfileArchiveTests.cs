using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MarketIntel.Features;
using MarketIntel.Training;
using MarketIntel.Training.Drift;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// A version's reference profile built from the bar archive of a cluster-mode silo (real PostgreSQL and Redis): the
/// archived bars of the assets over the range, featured as the grid features them (warmed up by the bars before the
/// range) and predicted by the version, over HTTP and with <c>marketintel models profile --assets</c>; a range with no
/// bars is refused.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ModelProfileArchiveTests(ModelProfileArchiveTests.Shared shared) : IClassFixture<ModelProfileArchiveTests.Shared>
{
    /// <summary>One PostgreSQL and one Redis for the class.</summary>
    public sealed class Shared : IDisposable
    {
        internal Servers Servers { get; } = new();

        public void Dispose() => Servers.Dispose();
    }

    private static string Iso(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // The profile the grid should build: each asset's model features over all its bars up to `to`, rows from `from` on.
    private static string Expected(byte[] modelBytes, BarSeries[] walks, long from, long to, string source)
    {
        using var model = MarketIntel.Inference.Model.Load(modelBytes, "demo");
        IReadOnlyList<string> names = model.FeatureNames!;
        FeatureSet spec = FeatureSet.Parse(string.Join(",", names));
        var rows = new List<float>();
        foreach (BarSeries walk in walks)
        {
            double[][] columns = spec.Compute(walk);
            for (int b = 0; b < walk.Count; b++)
            {
                long ts = long.Parse(walk.Timestamps[b], CultureInfo.InvariantCulture);
                if (ts >= from && ts <= to)
                {
                    rows.AddRange(columns.Select(c => (float)c[b]));
                }
            }
        }
        float[] values = [.. rows];
        var outputs = new float[values.Length / names.Count * model.OutputCount];
        model.PredictBatch(values, outputs);
        float[] predictions = [.. Enumerable.Range(0, values.Length / names.Count).Select(r => outputs[r * model.OutputCount])];
        return ProfileRows.Build(names, values, predictions, $"{source} ({values.Length / names.Count} rows)").ToJson();
    }

    [Fact]
    public async Task The_archives_bars_over_a_range_become_the_versions_profile_over_http_and_from_the_cli_and_an_empty_range_is_refused()
    {
        string database = shared.Servers.MigratedDatabase("profiles");
        using var silo = SiloProcess.Start("p", shared.Servers.Redis.Endpoint, database, "--model", SiloProcess.DemoModel);
        await silo.WaitReady(TimeSpan.FromSeconds(90));
        BarSeries[] walks = [ClusterLoad.Walk(0), ClusterLoad.Walk(1)];
        for (int a = 0; a < walks.Length; a++)
        {
            for (int start = 0; start < ClusterLoad.BarsPerAsset; start += 500)
            {
                Assert.Equal(0, (await silo.Ingest(ClusterLoad.Request(a, walks[a], start, start + 500))).Rejected);
            }
        }
        long from = long.Parse(walks[0].Timestamps[300], CultureInfo.InvariantCulture);
        long to = long.Parse(walks[0].Timestamps[1199], CultureInfo.InvariantCulture);
        byte[] demo = File.ReadAllBytes(SiloProcess.DemoModel);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HttpPort}") };
        foreach (string version in new[] { "v1", "v2", "v3" })
        {
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsync($"/models/profiled/versions/{version}", new ByteArrayContent(demo))).StatusCode);
        }

        // Over HTTP, both assets: 900 rows each.
        string body = $"{{\"assets\": [\"A00\", \"A01\"], \"from\": \"{Iso(from)}\", \"to\": \"{Iso(to)}\"}}";
        using (HttpResponseMessage set = await http.PostAsync("/models/profiled/versions/v1/profile", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            string answer = await set.Content.ReadAsStringAsync();
            Assert.True(set.StatusCode == HttpStatusCode.OK, answer);
            Assert.True(JsonDocument.Parse(answer).RootElement.GetProperty("hasProfile").GetBoolean());
        }
        string served = await http.GetStringAsync("/models/profiled/versions/v1/profile");
        Assert.Equal(1800, ReferenceProfile.Parse(served).Rows);
        Assert.Equal(Expected(demo, walks, from, to, $"archive bars of A00,A01 from {Iso(from)} to {Iso(to)}"), served);

        // From the command line, one asset, the range in Unix milliseconds.
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "marketintel.dll"), "models", "profile", "--target", $"grpc://127.0.0.1:{silo.GrpcPort}",
            "--name", "profiled", "--version", "v2", "--assets", "A01", "--from", from.ToString(CultureInfo.InvariantCulture), "--to", to.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using (var cli = Process.Start(info)!)
        {
            string stdout = await cli.StandardOutput.ReadToEndAsync(), stderr = await cli.StandardError.ReadToEndAsync();
            Assert.True(cli.WaitForExit(TimeSpan.FromSeconds(60)) && cli.ExitCode == 0, stderr);
            Assert.Contains("profiled@v2: reference profile set from the archive's bars of A01", stdout, StringComparison.Ordinal);
        }
        Assert.Equal(Expected(demo, [walks[1]], from, to, $"archive bars of A01 from {Iso(from)} to {Iso(to)}"),
            await http.GetStringAsync("/models/profiled/versions/v2/profile"));

        // A range after the last bar has no rows: refused, and nothing set.
        using (HttpResponseMessage empty = await http.PostAsync("/models/profiled/versions/v3/profile",
            new StringContent("{\"assets\": [\"A00\"], \"from\": \"2030-01-01T00:00:00Z\"}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Conflict, empty.StatusCode);
            Assert.Contains("the archive holds no bars of A00 from 2030-01-01T00:00:00Z to the last bar", await empty.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/models/profiled/versions/v3/profile")).StatusCode);
    }
}
