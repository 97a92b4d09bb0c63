using System.Net;
using System.Text.Json;
using System.Xml.Linq;
using MarketIntel.Api.V1;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;
using Bar = MarketIntel.Api.V1.Bar;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// The asset page's drift charts on the real host: <c>GET /ui/charts/drift/{asset}/{feature}.svg</c> answers well-formed
/// SVG holding both histograms and the reference's bins, for every input and the prediction, whatever characters the
/// symbol holds; an unknown asset or series is a 404 and a bad parameter a 400 naming it; the page itself is served.
/// </summary>
[Collection("server")]
public sealed class AssetChartsTests(ServerFixture server) : IAsyncLifetime
{
    private static ReferenceProfile Profile => DriftApiTests.Profile;

    private readonly string _model = Bars.NewAsset("chart");

    private Models.ModelsClient Models => new(server.Channel);

    public Task InitializeAsync() => DriftApiTests.RegisterVersions(Models, _model);

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>An asset served by <paramref name="version"/> with 150 bars of a walk (a full window of 100).</summary>
    internal static async Task<string> Asset(ServerFixture server, string model, string version, string asset)
    {
        await server.Grpc.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = model, Version = version });
        var walk = DriftSeries.Walk(seed: 3, count: 150, sigma: 0.03);
        var messages = DriftSeries.Bars(walk, 0, 150).Select(b => new Bar { Timestamp = b.Timestamp, Open = b.Open, High = b.High, Low = b.Low, Close = b.Close, Volume = b.Volume });
        Assert.Equal(150, (await Bars.Ingest(server.Grpc, asset, messages, perMessage: 50)).Accepted);
        return asset;
    }

    private static string Chart(string asset, string series, string query = "") =>
        $"/ui/charts/drift/{Uri.EscapeDataString(asset)}/{Uri.EscapeDataString(series)}.svg{query}";

    // The window reaches the store within a flush interval (100 ms in the fixture): until then the chart is a 404.
    private async Task<string> Svg(string path)
    {
        for (int i = 0; ; i++)
        {
            using HttpResponseMessage response = await server.Http.GetAsync(new Uri(path, UriKind.Relative));
            string body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Assert.Equal("image/svg+xml", response.Content.Headers.ContentType?.MediaType);
                return body;
            }
            Assert.True(response.StatusCode == HttpStatusCode.NotFound && i < 200, $"{path}: {(int)response.StatusCode} {body}");
            await Task.Delay(50);
        }
    }

    private async Task<string> Error(string path, HttpStatusCode expected)
    {
        using HttpResponseMessage response = await server.Http.GetAsync(new Uri(path, UriKind.Relative));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!;
    }

    private static string[] Texts(XDocument svg) =>
        [.. svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim())];

    [Fact]
    public async Task A_features_chart_is_svg_with_both_histograms_over_the_references_bins()
    {
        string asset = await Asset(server, _model, "v1", Bars.NewAsset("chart"));
        foreach (FeatureReference reference in Profile.Features.Append(Profile.Prediction!))
        {
            XDocument svg = XDocument.Parse(await Svg(Chart(asset, reference.Name)));
            Assert.Equal("svg", svg.Root!.Name.LocalName);
            string[] texts = Texts(svg);
            Assert.Contains(texts, t => t.Contains(asset, StringComparison.Ordinal) && t.Contains(reference.Name, StringComparison.Ordinal) && t.EndsWith("(100 of 100 bars)", StringComparison.Ordinal));
            Assert.Contains("reference", texts);
            Assert.Contains("live window", texts);
            // One tick per bin of this series' reference, labelled by its lower edge.
            Assert.Equal(reference.Bins, texts.Count(t => t.StartsWith("< ", StringComparison.Ordinal) || t.StartsWith(">= ", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task A_symbol_with_markup_characters_is_escaped_in_the_svg()
    {
        string asset = await Asset(server, _model, "v1", Bars.NewAsset("a<b&c\"d'/e"));
        XDocument svg = XDocument.Parse(await Svg(Chart(asset, "roc_1")));
        Assert.Contains(Texts(svg), t => t.Contains(asset, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Charts_the_chart_size_asked_for()
    {
        string asset = await Asset(server, _model, "v1", Bars.NewAsset("chart"));
        XDocument svg = XDocument.Parse(await Svg(Chart(asset, "roc_2", "?width=400&height=300")));
        Assert.Equal(("400", "300"), ((string?)svg.Root!.Attribute("width"), (string?)svg.Root.Attribute("height")));
    }

    [Fact]
    public async Task An_unknown_asset_or_series_is_not_found_and_names_what_is_missing()
    {
        Assert.Contains("no bars", await Error(Chart(Bars.NewAsset("never"), "roc_1"), HttpStatusCode.NotFound));
        string asset = await Asset(server, _model, "v1", Bars.NewAsset("chart"));
        await Svg(Chart(asset, "roc_1"));
        Assert.Contains("feature: ", await Error(Chart(asset, "sma_9"), HttpStatusCode.NotFound));
        Assert.Contains("'sma_9'", await Error(Chart(asset, "sma_9"), HttpStatusCode.NotFound));
        string bare = await Asset(server, _model, "bare", Bars.NewAsset("bare"));
        Assert.Contains("reference profile", await Error(Chart(bare, "roc_1"), HttpStatusCode.NotFound));
    }

    [Fact]
    public async Task A_bad_parameter_is_a_bad_request_naming_it()
    {
        string asset = Bars.NewAsset("chart");
        Assert.StartsWith("asset: ", await Error(Chart("a b", "roc_1"), HttpStatusCode.BadRequest));
        Assert.StartsWith("width: 'wide'", await Error(Chart(asset, "roc_1", "?width=wide"), HttpStatusCode.BadRequest));
        Assert.StartsWith("height: '100'", await Error(Chart(asset, "roc_1", "?height=100"), HttpStatusCode.BadRequest));
        Assert.StartsWith("width: '9999'", await Error(Chart(asset, "roc_1", "?width=9999"), HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task The_asset_page_and_its_script_are_served()
    {
        using HttpResponseMessage page = await server.Http.GetAsync(new Uri("/ui/asset?symbol=X", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("/ui/static/asset.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using HttpResponseMessage script = await server.Http.GetAsync(new Uri("/ui/static/asset.js", UriKind.Relative));
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
    }
}
