using System.Net;
using System.Text.Json;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// The console's files and live feed on the real host: <c>/ui</c> is the assets page, only the embedded files are
/// served (no path reaches anything else), and <c>/ui/events</c> sends a new prediction of an asset on the page when
/// its bar arrives.
/// </summary>
[Collection("server")]
public sealed class ConsolePagesTests(ServerFixture server)
{
    private HttpClient Http => server.Http;

    [Theory]
    [InlineData("/ui", "text/html", "<title>MarketIntel console: assets</title>")]
    [InlineData("/ui/", "text/html", "<title>MarketIntel console: assets</title>")]
    [InlineData("/ui/static/assets.js", "text/javascript", "new EventSource(")]
    [InlineData("/ui/static/console.css", "text/css", "tr.updated")]
    public async Task The_console_serves_its_pages_scripts_and_styles_with_a_policy_that_runs_only_its_own_scripts(string path, string type, string content)
    {
        using HttpResponseMessage response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType!.MediaType);
        Assert.Contains(content, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/ui/static/missing.js")]
    [InlineData("/ui/static/..%2F..%2FMarketIntel.Server.dll")]
    [InlineData("/ui/static/%2Fetc%2Fpasswd")]
    [InlineData("/ui/static/WebConsole%2FPages%2Fassets.html")]
    public async Task Nothing_but_the_embedded_files_is_served(string path)
    {
        using HttpResponseMessage response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith("the console has no file", body.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_live_feed_sends_the_new_prediction_of_an_asset_on_the_page_when_its_bar_arrives()
    {
        string asset = Bars.NewAsset("events");
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 100));
        // As the page does: the table first, then its live feed.
        using (HttpResponseMessage table = await Http.GetAsync(new Uri($"/assets?search={asset}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, table.StatusCode);
        }
        // A guard against a hang, not a timing: the event comes as soon as the bar is applied.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/ui/events?search={asset}", UriKind.Relative));
        using HttpResponseMessage response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        Assert.Equal(": watching 1 assets", await reader.ReadLineAsync(timeout.Token));

        await Bars.Ingest(server.Grpc, asset, Bars.Range(100, 1));

        string? line;
        do
        {
            line = await reader.ReadLineAsync(timeout.Token);
        }
        while (line is not null && !line.StartsWith("data: ", StringComparison.Ordinal));
        Assert.NotNull(line);
        using JsonDocument data = JsonDocument.Parse(line["data: ".Length..]);
        var predicted = await server.Grpc.PredictAsync(new global::MarketIntel.Api.V1.PredictRequest { Asset = asset });
        Assert.Equal(asset, data.RootElement.GetProperty("asset").GetString());
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(Bars.Timestamp(100)), data.RootElement.GetProperty("asOf").GetDateTimeOffset());
        Assert.Equal(predicted.Version, data.RootElement.GetProperty("version").GetString());
        Assert.Equal(predicted.Value, data.RootElement.GetProperty("prediction").GetSingle());
    }

    [Fact]
    public async Task A_live_feed_of_a_page_with_no_assets_is_refused_as_the_grpc_stream_is()
    {
        using HttpResponseMessage response = await Http.GetAsync(new Uri("/ui/events?search=no-such-asset-anywhere", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("assets: name at least one asset to stream", body.RootElement.GetProperty("error").GetString());
    }
}
