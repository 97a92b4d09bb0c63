using System.Net;
using System.Text.Json;
using MarketIntel.Api.V1;

namespace MarketIntel.Server.Tests.Console;

/// <summary>
/// <c>GET /assets</c> on the real host: the active assets whose symbol contains the search, by symbol, a page at a
/// time, each with its latest bar, served version and prediction as <c>GET /predict</c> gives them; bad input named.
/// </summary>
[Collection("server")]
public sealed class AssetsApiTests(ServerFixture server)
{
    private HttpClient Http => server.Http;

    // Three assets that share a prefix no other test uses, with 100, 101 and 102 bars.
    private async Task<string[]> ThreeAssets(string prefix)
    {
        string[] assets = [$"{prefix}-c", $"{prefix}-a", $"{prefix}-b"];
        for (int i = 0; i < assets.Length; i++)
        {
            await Bars.Ingest(server.Grpc, assets[i], Bars.Range(0, 100 + i));
        }
        return assets;
    }

    private async Task<JsonElement> Get(string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using HttpResponseMessage response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static string[] Symbols(JsonElement page) => [.. page.GetProperty("assets").EnumerateArray().Select(a => a.GetProperty("asset").GetString()!)];

    [Fact]
    public async Task The_assets_matching_a_search_come_by_symbol_a_page_at_a_time_whatever_the_case_of_the_search()
    {
        string prefix = Bars.NewAsset("pages")[..18];
        await ThreeAssets(prefix);

        JsonElement first = await Get($"/assets?search={prefix.ToUpperInvariant()}&page=1&size=2");
        Assert.Equal(3, first.GetProperty("total").GetInt32());
        Assert.Equal(1, first.GetProperty("page").GetInt32());
        Assert.Equal(2, first.GetProperty("size").GetInt32());
        Assert.Equal([$"{prefix}-a", $"{prefix}-b"], Symbols(first));

        JsonElement second = await Get($"/assets?search={prefix}&page=2&size=2");
        Assert.Equal(3, second.GetProperty("total").GetInt32());
        Assert.Equal([$"{prefix}-c"], Symbols(second));

        JsonElement past = await Get($"/assets?search={prefix}&page=3&size=2");
        Assert.Equal(3, past.GetProperty("total").GetInt32());
        Assert.Empty(Symbols(past));

        // One asset alone, by a fragment from the middle of its symbol.
        JsonElement one = await Get($"/assets?search={prefix[6..]}-b");
        Assert.Equal([$"{prefix}-b"], Symbols(one));
    }

    [Fact]
    public async Task Each_row_holds_the_latest_bar_and_the_served_versions_prediction_as_predict_gives_them()
    {
        string prefix = Bars.NewAsset("rows")[..18];
        string[] assets = await ThreeAssets(prefix);

        JsonElement page = await Get($"/assets?search={prefix}");
        var rows = page.GetProperty("assets").EnumerateArray().ToDictionary(a => a.GetProperty("asset").GetString()!);
        for (int i = 0; i < assets.Length; i++)
        {
            JsonElement row = rows[assets[i]];
            Prediction predicted = await server.Grpc.PredictAsync(new PredictRequest { Asset = assets[i] });
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(Bars.Timestamp(99 + i)), row.GetProperty("latestBar").GetDateTimeOffset());
            Assert.Equal("direction-d3-n60", row.GetProperty("model").GetString());
            Assert.Equal(predicted.Version, row.GetProperty("version").GetString());
            Assert.Equal(predicted.Value, row.GetProperty("prediction").GetSingle());
            Assert.False(row.GetProperty("drifting").GetBoolean());
        }
    }

    [Theory]
    [InlineData("page=0", "page: 0 is not a page number; pages count from 1")]
    [InlineData("page=two", "page: 'two' is not a whole number")]
    [InlineData("size=201", "size: 201 is outside 1 to 200")]
    [InlineData("size=-1", "size: '-1' is not a whole number")]
    [InlineData("search=a%20b", "search: asset symbol 'a b' has white space at position 2")]
    public async Task A_bad_page_size_or_search_is_refused_naming_it(string query, string error)
    {
        JsonElement refused = await Get($"/assets?{query}", HttpStatusCode.BadRequest);
        Assert.StartsWith(error, refused.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("INVALID_ARGUMENT", refused.GetProperty("code").GetString());
    }
}
