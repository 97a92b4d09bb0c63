using MarketIntel.Api.V1;
using MarketIntel.Tests;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// The console's asset page in a real browser (Debian's chromium, headless, driven by asset_browser.py through
/// chromedriver) against the real host: from the assets table's link, the page of an asset served by a version with a
/// reference profile shows its prediction, its price chart (loaded), features, a drift row and a loaded chart per series,
/// and its bar quality.
/// The screenshot goes to test-artifacts/console/asset.png at the repository's root (git-ignored).
/// </summary>
[Collection("server")]
public sealed class AssetPageBrowserTests(ServerFixture server)
{
    [Fact]
    public async Task The_asset_page_shows_the_assets_prediction_features_drift_charts_and_quality()
    {
        string model = Bars.NewAsset("page");
        await DriftApiTests.RegisterVersions(new Models.ModelsClient(server.Channel), model);
        string asset = await AssetChartsTests.Asset(server, model, "v1", Bars.NewAsset("page"));
        // The charts draw the window as stored (every flush interval, 100 ms here): the page is opened once it is.
        for (int i = 0; ; i++)
        {
            using HttpResponseMessage chart = await server.Http.GetAsync(new Uri($"/ui/charts/drift/{asset}/roc_1.svg", UriKind.Relative));
            if (chart.IsSuccessStatusCode)
            {
                break;
            }
            Assert.True(i < 200, $"the asset's drift window was not stored: {(int)chart.StatusCode}");
            await Task.Delay(50);
        }
        await ConsoleScripts.RunToEnd("asset_browser.py", "asset.png", "--url", $"http://127.0.0.1:{server.HttpPort}", "--asset", asset,
            "--version", $"{model}:v1", "--features", string.Join(',', DriftSeries.Features), "--bars", "150");
    }
}
