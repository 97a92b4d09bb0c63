using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;
using Bar = MarketIntel.Api.V1.Bar;

namespace MarketIntel.Server.Tests;

/// <summary>
/// Drift through the APIs on the real host: <c>GET /drift/{asset}</c> and gRPC <c>Drift.GetAssetDrift</c> answer the
/// issue's shape with the same numbers, <c>GET /drift</c> and <c>Drift.GetSummary</c> count the assets of a version from
/// the stored windows, the silo exports the drift gauges per version, and an asset that starts drifting is announced on
/// <c>Models.StreamEvents</c>.
/// </summary>
[Collection("server")]
public sealed class DriftApiTests(ServerFixture server) : IAsyncLifetime
{
    /// <summary>The reference profile of version v1 of the model <see cref="RegisterVersions"/> registers.</summary>
    internal static readonly ReferenceProfile Profile = DriftSeries.Profile(DriftSeries.Walk(seed: 1, count: 4000, sigma: 0.01));

    private readonly string _model = Bars.NewAsset("walk");

    private Grid.GridClient Grid => server.Grpc;

    private Models.ModelsClient Models => new(server.Channel);

    private Drift.DriftClient Drift => new(server.Channel);

    public Task InitializeAsync() => RegisterVersions(Models, _model);

    /// <summary>Registers the walk model as <paramref name="name"/>:v1 with <see cref="Profile"/> and as :bare without a profile.</summary>
    internal static async Task RegisterVersions(Models.ModelsClient models, string name)
    {
        byte[] bytes = DriftSeries.Model(out var model);
        model.Dispose();
        await models.RegisterAsync(new RegisterVersionRequest { Name = name, Version = "v1", Model = Google.Protobuf.ByteString.CopyFrom(bytes), Lineage = DriftSeries.Lineage(Profile) });
        await models.RegisterAsync(new RegisterVersionRequest { Name = name, Version = "bare", Model = Google.Protobuf.ByteString.CopyFrom(bytes), Lineage = DriftSeries.Lineage(null) });
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<string> Asset(string version, double sigma, int bars = 300)
    {
        string asset = Bars.NewAsset("drift");
        await Grid.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = _model, Version = version });
        BarSeries walk = DriftSeries.Walk(seed: 3, count: bars, sigma);
        IEnumerable<Bar> messages = DriftSeries.Bars(walk, 0, bars).Select(b => new Bar { Timestamp = b.Timestamp, Open = b.Open, High = b.High, Low = b.Low, Close = b.Close, Volume = b.Volume });
        IngestBarsReply reply = await Bars.Ingest(Grid, asset, messages, perMessage: 50);
        Assert.Equal(bars, reply.Accepted);
        return asset;
    }

    private async Task<JsonElement> Get(string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using HttpResponseMessage response = await server.Http.GetAsync(new Uri(path, UriKind.Relative));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task An_asset_that_drifts_is_reported_with_the_issues_shape_over_both_APIs_and_announced_on_the_event_stream()
    {
        using var events = Models.StreamEvents(new StreamModelEventsRequest { Name = _model });
        await events.ResponseHeadersAsync;
        string calm = await Asset("v1", 0.01);
        string wild = await Asset("v1", 0.03);

        JsonElement drift = await Get($"/drift/{wild}");
        Assert.Equal(wild, drift.GetProperty("asset").GetString());
        Assert.Equal(_model, drift.GetProperty("model").GetString());
        Assert.Equal("v1", drift.GetProperty("version").GetString());
        Assert.Equal("ok", drift.GetProperty("status").GetString());
        Assert.Equal(100, drift.GetProperty("window").GetInt32());
        Assert.Equal(100, drift.GetProperty("count").GetInt32());
        Assert.True(drift.GetProperty("drifting").GetBoolean());
        JsonElement[] features = [.. drift.GetProperty("features").EnumerateArray()];
        Assert.Equal(DriftSeries.Features, features.Select(f => f.GetProperty("name").GetString()));
        foreach (JsonElement feature in features)
        {
            Assert.True(feature.GetProperty("drifting").GetBoolean());
            Assert.True(feature.GetProperty("psi").GetDouble() > 0.5);
            Assert.InRange(feature.GetProperty("js").GetDouble(), 0, 1);
            Assert.True(feature.GetProperty("wasserstein").GetDouble() > 0);
            Assert.InRange(feature.GetProperty("pValue").GetDouble(), 0, 0.01);
        }
        Assert.Equal("prediction", drift.GetProperty("prediction").GetProperty("name").GetString());
        Assert.Equal(300, drift.GetProperty("quality").GetProperty("bars").GetInt64());
        JsonElement quality = drift.GetProperty("quality");
        Assert.Equal(0, quality.GetProperty("rejected").GetInt64());
        Assert.Equal(60_000, quality.GetProperty("usualIntervalMs").GetDouble());
        Assert.Equal((0, 0, 0), (quality.GetProperty("gaps").GetInt64(), quality.GetProperty("staleRuns").GetInt64(), quality.GetProperty("currentStaleBars").GetInt64()));
        Assert.Equal(JsonValueKind.Array, quality.GetProperty("findings").ValueKind);
        // The lineage gives no validation metrics: null, never a made-up number.
        Assert.Equal(JsonValueKind.Null, drift.GetProperty("concept").GetProperty("validationAccuracy").ValueKind);

        AssetDrift grpc = await Drift.GetAssetDriftAsync(new GetAssetDriftRequest { Asset = wild });
        Assert.Equal(features.Select(f => f.GetProperty("psi").GetDouble()), grpc.Features.Select(f => f.Psi));
        Assert.Equal(features.Select(f => f.GetProperty("pValue").GetDouble()), grpc.Features.Select(f => f.PValue));
        Assert.True(grpc.Drifting);

        JsonElement calmDrift = await Get($"/drift/{calm}");
        Assert.False(calmDrift.GetProperty("drifting").GetBoolean());
        Assert.All(calmDrift.GetProperty("features").EnumerateArray(), f => Assert.False(f.GetProperty("drifting").GetBoolean()));

        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        ModelEventMessage raised;
        do
        {
            Assert.True(await events.ResponseStream.MoveNext(wait.Token));
            raised = events.ResponseStream.Current;
        }
        while (raised.Change.Action != MarketIntel.Abstractions.Models.DriftEvents.Raised);
        Assert.Equal("v1", raised.Change.Version);
        using JsonDocument detail = JsonDocument.Parse(raised.Change.Detail);
        Assert.Equal(wild, detail.RootElement.GetProperty("asset").GetString());
        Assert.Contains("roc_1", detail.RootElement.GetProperty("series").EnumerateArray().Select(s => s.GetString()));
    }

    [Fact]
    public async Task The_summary_and_the_metrics_count_a_versions_assets_and_those_drifting()
    {
        string[] assets = [await Asset("v1", 0.01), await Asset("v1", 0.03), await Asset("v1", 0.03), await Asset("v1", 0.01, bars: 50)];
        await Asset("bare", 0.03);

        // The windows reach the store within a flush interval of the bars.
        JsonElement version = default;
        for (int i = 0; i < 200; i++)
        {
            JsonElement summary = await Get($"/drift?name={_model}");
            JsonElement[] versions = [.. summary.GetProperty("versions").EnumerateArray()];
            version = versions.FirstOrDefault(v => v.GetProperty("version").GetString() == "v1");
            if (version.ValueKind == JsonValueKind.Object && version.GetProperty("assets").GetInt64() == 3)
            {
                break;
            }
            await Task.Delay(50);
        }
        // The asset of 50 bars has no full window yet: it is not judged.
        Assert.Equal(3, version.GetProperty("assets").GetInt64());
        Assert.Equal(2, version.GetProperty("driftingAssets").GetInt64());
        Assert.True(version.GetProperty("worstPsi").GetDouble() > 0.5);
        JsonElement[] often = [.. version.GetProperty("features").EnumerateArray()];
        Assert.Contains(often, f => f.GetProperty("name").GetString() == "roc_1" && f.GetProperty("driftingAssets").GetInt64() == 2);

        DriftSummary grpc = await Drift.GetSummaryAsync(new GetDriftSummaryRequest { Name = _model });
        VersionDrift v1 = grpc.Versions.Single(v => v.Version == "v1");
        Assert.Equal(3, v1.Assets);
        Assert.Equal(2, v1.DriftingAssets);
        // A version without a reference counts no window, so none is stored for it.
        Assert.DoesNotContain(grpc.Versions, v => v.Version == "bare");

        // The scan streams one message per stored window; with counts it carries the reference's bins. The window of
        // 50 bars is stored on its own flush, which may come after the full ones the summary waited for.
        var scanned = new List<AssetDrift>();
        for (var wait = Stopwatch.StartNew(); wait.Elapsed < TimeSpan.FromSeconds(30) && scanned.Count(m => m.Version == "v1") < 4; await Task.Delay(50))
        {
            scanned.Clear();
            using var scan = Drift.Scan(new DriftScanRequest { Name = _model, WithCounts = true });
            await foreach (AssetDrift message in scan.ResponseStream.ReadAllAsync())
            {
                scanned.Add(message);
            }
        }
        Assert.Equal(4, scanned.Count(m => m.Version == "v1"));
        AssetDrift full = scanned.First(m => m.Asset == assets[1]);
        Assert.Equal(Profile.Features[0].Counts, full.Features[0].ReferenceCounts);
        Assert.Equal(100, full.Features[0].LiveCounts.Sum() + (long)Math.Round(full.Features[0].MissingRate * 100));

        // Over HTTP the same scan, with the same bins and counts, follows the summary when asked for; only then.
        Assert.False((await Get($"/drift?name={_model}")).TryGetProperty("assets", out _));
        JsonElement[] overHttp = [.. (await Get($"/drift?name={_model}&scan=true")).GetProperty("assets").EnumerateArray()];
        Assert.Equal(scanned.Select(m => m.Asset).Order(StringComparer.Ordinal), overHttp.Select(a => a.GetProperty("asset").GetString()!).Order(StringComparer.Ordinal));
        JsonElement fullOverHttp = overHttp.Single(a => a.GetProperty("asset").GetString() == assets[1]).GetProperty("features")[0];
        Assert.Equal(full.Features[0].Edges, fullOverHttp.GetProperty("edges").EnumerateArray().Select(e => e.GetSingle()));
        Assert.Equal(full.Features[0].ReferenceCounts, fullOverHttp.GetProperty("referenceCounts").EnumerateArray().Select(c => c.GetInt64()));
        Assert.Equal(full.Features[0].LiveCounts, fullOverHttp.GetProperty("liveCounts").EnumerateArray().Select(c => c.GetInt64()));

        Scrape scrape = await Scrape.From(server.Http, "/metrics");
        string[] labels = [$"model=\"{_model}\"", "version=\"v1\""];
        Assert.Equal(3, scrape.Value("marketintel_drift_assets", labels));
        Assert.Equal(2, scrape.Value("marketintel_drift_drifting_assets", labels));
        Assert.True(scrape.Value("marketintel_drift_drifting_features", labels) >= 4);
        Assert.Equal(version.GetProperty("worstPsi").GetDouble(), scrape.Value("marketintel_drift_worst_psi", labels), 12);

        // Per model version, never per asset or feature: four assets of v1 reported, one series of each gauge for v1,
        // and no drift series carries a label other than the model and the version.
        foreach (string family in new[] { "marketintel_drift_assets", "marketintel_drift_drifting_assets", "marketintel_drift_drifting_features", "marketintel_drift_worst_psi" })
        {
            Scrape.Sample[] samples = [.. scrape.Samples(family)];
            Assert.All(samples, s => Assert.Equal(["model", "version"], s.LabelNames.Order(StringComparer.Ordinal)));
            Assert.Single(samples, s => s.Labels.Contains(("model", _model)) && s.Labels.Contains(("version", "v1")));
        }
    }

    [Fact]
    public async Task Bad_symbols_unknown_assets_and_versions_without_a_reference_answer_as_the_other_endpoints_do()
    {
        JsonElement invalid = await Get("/drift/bad%20symbol", HttpStatusCode.BadRequest);
        Assert.Equal("INVALID_ARGUMENT", invalid.GetProperty("code").GetString());
        JsonElement badScan = await Get("/drift?scan=maybe", HttpStatusCode.BadRequest);
        Assert.Equal("scan: 'maybe' is not true or false", badScan.GetProperty("error").GetString());
        JsonElement unknown = await Get($"/drift/{Bars.NewAsset("none")}", HttpStatusCode.NotFound);
        Assert.Equal("NOT_FOUND", unknown.GetProperty("code").GetString());
        var e = await Assert.ThrowsAsync<RpcException>(async () => await Drift.GetAssetDriftAsync(new GetAssetDriftRequest { Asset = Bars.NewAsset("none") }));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);

        JsonElement bare = await Get($"/drift/{await Asset("bare", 0.01, bars: 20)}");
        Assert.Equal("no-reference", bare.GetProperty("status").GetString());
        Assert.Empty(bare.GetProperty("features").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, bare.GetProperty("prediction").ValueKind);
    }
}
