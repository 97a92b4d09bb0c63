using System.Net;
using System.Text.Json;
using System.Xml.Linq;
using MarketIntel.Abstractions;
using MarketIntel.Grains;
using MarketIntel.Api.V1;
using MarketIntel.Server.WebConsole;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Bar = MarketIntel.Api.V1.Bar;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// The asset's recent bars with the served version's prediction after each (<see cref="IAssetGrain.GetHistory"/>) and
/// the price chart drawn from them, <c>GET /ui/charts/price/{asset}.svg</c>, on the real host: the predictions kept are
/// the ones the grid served after each bar, the count is capped at the ring, an unknown asset is a 404 and a bad
/// parameter a 400 naming it. The version has a reference profile, so the grain predicts after every bar (drift).
/// </summary>
[Collection("server")]
public sealed class PriceChartTests(ServerFixture server) : IAsyncLifetime
{
    private readonly string _model = Bars.NewAsset("price");

    private IGrainFactory Grains => server.Services.GetRequiredService<IGrainFactory>();

    public Task InitializeAsync() => DriftApiTests.RegisterVersions(new Models.ModelsClient(server.Channel), _model);

    public Task DisposeAsync() => Task.CompletedTask;

    private static Bar[] Walk(int count) =>
        [.. DriftSeries.Bars(DriftSeries.Walk(seed: 5, count, sigma: 0.03), 0, count)
            .Select(b => new Bar { Timestamp = b.Timestamp, Open = b.Open, High = b.High, Low = b.Low, Close = b.Close, Volume = b.Volume })];

    private static string Chart(string asset, string query = "") => $"/ui/charts/price/{Uri.EscapeDataString(asset)}.svg{query}";

    [Fact]
    public async Task The_history_holds_what_the_grid_predicted_after_each_bar_and_nan_where_it_could_not()
    {
        string asset = Bars.NewAsset("price");
        await server.Grpc.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = _model, Version = "v1" });
        Bar[] bars = Walk(40);
        var served = new float?[bars.Length];
        for (int i = 0; i < bars.Length; i++)
        {
            Assert.Equal(1, (await Bars.Ingest(server.Grpc, asset, [bars[i]], perMessage: 1)).Accepted);
            using HttpResponseMessage response = await server.Http.GetAsync(new Uri($"/predict/{asset}", UriKind.Relative));
            string body = await response.Content.ReadAsStringAsync();
            // Until the inputs are defined (roc_2 needs three bars) there is no prediction: 409 names why.
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, body);
            served[i] = response.IsSuccessStatusCode ? JsonDocument.Parse(body).RootElement.GetProperty("prediction").GetSingle() : null;
        }
        Assert.True(served.Count(p => p is not null) >= 35, "the version predicts from the third bar on");

        AssetHistory history = await Grains.GetGrain<IAssetGrain>(asset).GetHistory(bars.Length);
        Assert.Equal(asset, history.Asset);
        Assert.Equal(bars.Select(b => b.Timestamp), history.Timestamps);
        Assert.Equal(bars.Select(b => b.Close), history.Closes);
        for (int i = 0; i < bars.Length; i++)
        {
            if (served[i] is { } value)
            {
                Assert.True(value == history.Predictions[i], $"bar {i}: served {value}, history {history.Predictions[i]}");
            }
            else
            {
                Assert.True(float.IsNaN(history.Predictions[i]), $"bar {i}: no prediction was served, history {history.Predictions[i]}");
            }
        }
    }

    [Fact]
    public async Task The_history_is_capped_at_the_ring_and_gives_the_latest_bars()
    {
        string asset = await AssetChartsTests.Asset(server, _model, "v1", Bars.NewAsset("price"));
        IAssetGrain grain = Grains.GetGrain<IAssetGrain>(asset);
        AssetHistory all = await grain.GetHistory(int.MaxValue);
        Assert.Equal(new GridOptions().HistoryLength, all.Timestamps.Count);   // 150 bars ingested, 128 kept
        Assert.Equal(all.Timestamps.Count, all.Closes.Count);
        Assert.Equal(all.Timestamps.Count, all.Predictions.Count);
        Assert.All(all.Predictions, p => Assert.False(float.IsNaN(p)));        // every kept bar came after the warm-up
        AssetHistory latest = await grain.GetHistory(5);
        Assert.Equal(all.Timestamps.TakeLast(5), latest.Timestamps);
        Assert.Equal(all.Predictions.TakeLast(5), latest.Predictions);
        var refused = await Assert.ThrowsAsync<GridException>(() => grain.GetHistory(0));
        Assert.Equal(GridErrorKind.InvalidArgument, refused.Kind);
        Assert.StartsWith("count: 0", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_assets_history_is_not_found()
    {
        var unknown = await Assert.ThrowsAsync<GridException>(() => Grains.GetGrain<IAssetGrain>(Bars.NewAsset("never")).GetHistory(10));
        Assert.Equal(GridErrorKind.NotFound, unknown.Kind);
        Assert.Contains("has no bars", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_price_chart_is_svg_with_the_closes_and_the_predictions()
    {
        string asset = await AssetChartsTests.Asset(server, _model, "v1", Bars.NewAsset("a<b&c/d"));
        using HttpResponseMessage response = await server.Http.GetAsync(new Uri(Chart(asset, "?width=400&height=300"), UriKind.Relative));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("image/svg+xml", response.Content.Headers.ContentType?.MediaType);
        XDocument svg = XDocument.Parse(body);
        Assert.Equal(("400", "300"), ((string?)svg.Root!.Attribute("width"), (string?)svg.Root.Attribute("height")));
        string[] texts = [.. svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim())];
        Assert.Contains(PriceChart.CloseLegend, texts);
        Assert.Contains(PriceChart.PredictionLegend, texts);
        Assert.Contains($"{asset}: last 128 bars, 128 predicted", texts);
    }

    [Fact]
    public async Task An_asset_of_one_bar_is_charted_too()
    {
        string asset = Bars.NewAsset("price");
        Assert.Equal(1, (await Bars.Ingest(server.Grpc, asset, Walk(1), perMessage: 1)).Accepted);
        using HttpResponseMessage response = await server.Http.GetAsync(new Uri(Chart(asset), UriKind.Relative));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        string[] texts = [.. XDocument.Parse(body).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim())];
        Assert.Contains(texts, t => t.StartsWith($"{asset}: last 1 bars, ", StringComparison.Ordinal));
        Assert.Contains(PriceChart.CloseLegend, texts);
    }

    [Fact]
    public async Task The_price_chart_of_an_unknown_asset_or_with_a_bad_parameter_is_refused_naming_why()
    {
        Assert.Contains("has no bars", await Error(Chart(Bars.NewAsset("never")), HttpStatusCode.NotFound), StringComparison.Ordinal);
        Assert.StartsWith("asset: ", await Error(Chart("a b"), HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.StartsWith("width: 'wide'", await Error(Chart("X", "?width=wide"), HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.StartsWith("height: '9999'", await Error(Chart("X", "?height=9999"), HttpStatusCode.BadRequest), StringComparison.Ordinal);
    }

    private async Task<string> Error(string path, HttpStatusCode expected)
    {
        using HttpResponseMessage response = await server.Http.GetAsync(new Uri(path, UriKind.Relative));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!;
    }
}
