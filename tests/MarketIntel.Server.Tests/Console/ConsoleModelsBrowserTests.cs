using System.Net;
using System.Text;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// The console's models page in a real browser (console_models_browser.py, as <see cref="ConsoleBrowserTests"/> drives
/// chromium) against the real host with a model name registered over HTTP: a champion alias with an A/B split, a shadow,
/// a lineage, tags (one holding markup), stored live scores and a retraining job. The page must show the versions with their roles, the alias with its
/// split, v2's lineage, each version's scores and the champion/challenger pair, the promotion gate's verdict on each challenger
/// (too few pairs, with the count) and the job, and put the markup in as text. Screenshot:
/// test-artifacts/console/models.png.
/// </summary>
[Collection("server")]
public sealed class ConsoleModelsBrowserTests(ServerFixture server)
{
    // A tag value a page that put data in as markup would run.
    private const string Markup = "<img src=x onerror=\"document.title='owned'\">";

    [Fact]
    public async Task The_models_page_shows_versions_aliases_shadows_and_scores_and_puts_every_value_in_as_text()
    {
        string name = $"console-{Guid.NewGuid():N}"[..20];
        byte[] model = File.ReadAllBytes(ServerFixture.PushedModel);
        await Send(HttpMethod.Put, $"/models/{name}/versions/v1?alias=champion", new ByteArrayContent(model));
        await Send(HttpMethod.Put, $"/models/{name}/versions/v2", new ByteArrayContent(model));
        await Send(HttpMethod.Put, $"/models/{name}/versions/v3", new ByteArrayContent(model));
        await Send(HttpMethod.Put, $"/models/{name}/versions/v2/lineage", Json("{\"tool\":\"test\",\"label\":{\"kind\":\"direction\",\"horizon\":3},\"replaces\":\"v1\"}"));
        await Send(HttpMethod.Put, $"/models/{name}/shadows/v2", null);
        await Send(HttpMethod.Put, $"/models/{name}/aliases/champion/split", Json("{\"version\":\"v3\",\"weight\":0.2}"));
        await Send(HttpMethod.Post, $"/models/{name}/versions/v1/tags", Json("{\"set\":{\"stage\":\"live\",\"note\":" + System.Text.Json.JsonSerializer.Serialize(Markup) + "}}"));

        // What the asset grains store as they score (their scoring is tested in MarketIntel.Grains.Tests): one asset's tallies.
        var store = server.Services.GetRequiredService<IScoreStore>();
        PairTally pair = PairTally.Empty(new ModelRef(name, "v1"), new ModelRef(name, "v2"), LabelKind.Direction, 3);
        (pair.Pairs, pair.BothHit, pair.ChampionOnlyHits, pair.ChallengerOnlyHits, pair.DifferenceSum) = (30, 14, 4, 2, -1.5);
        await store.Save(Bars.NewAsset("scored"), new ModelScores([Tally(name, "v1", 30, 18), Tally(name, "v2", 30, 16)], [pair]));

        // A retraining job of assets with no bars: whatever state it has reached when the page reads it, it is listed.
        string job;
        using (HttpResponseMessage started = await server.Http.PostAsync(new Uri($"/models/{name}/retrain", UriKind.Relative),
            Json("{\"assets\":[\"" + Bars.NewAsset("nobars") + "\"],\"label\":\"up_3\",\"reason\":\"console test\"}")))
        {
            string body = await started.Content.ReadAsStringAsync();
            Assert.True(started.StatusCode == HttpStatusCode.Accepted, body);
            job = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("job").GetProperty("id").GetString()!;
        }

        try
        {
            await ConsoleScripts.RunToEnd("console_models_browser.py", "models.png",
                "--url", $"http://127.0.0.1:{server.HttpPort}", "--name", name, "--markup", Markup, "--job", job);
        }
        finally
        {
            // Ends the job if it is still waiting or running; a finished one stays as it is.
            await Send(HttpMethod.Delete, $"/models/{name}/retrain/{job}", null);
        }
    }

    [Fact]
    public async Task The_models_page_is_served_with_its_script_and_the_consoles_policy()
    {
        using HttpResponseMessage page = await server.Http.GetAsync(new Uri("/ui/models?name=anything", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<title>MarketIntel console: models</title>", html, StringComparison.Ordinal);
        Assert.Contains("<script src=\"/ui/static/models.js\" defer></script>", html, StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        using HttpResponseMessage script = await server.Http.GetAsync(new Uri("/ui/static/models.js", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType!.MediaType);
        // Data goes in as text only: the script never assigns markup.
        Assert.DoesNotContain("innerHTML", await script.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The assets page links to it.
        Assert.Contains("<a href=\"/ui/models\">Models</a>", await server.Http.GetStringAsync(new Uri("/ui", UriKind.Relative)), StringComparison.Ordinal);
    }

    private static OutcomeTally Tally(string name, string version, long outcomes, long hits) => new()
    {
        Model = new ModelRef(name, version), Kind = LabelKind.Direction, Horizon = 3, Outcomes = outcomes, Hits = hits,
        LogLossSum = outcomes * 0.65, BrierSum = outcomes * 0.24,
    };

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task Send(HttpMethod method, string path, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        using HttpResponseMessage response = await server.Http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
