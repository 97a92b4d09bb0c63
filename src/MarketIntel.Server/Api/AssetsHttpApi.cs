using System.Globalization;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Server.Application;
using MarketIntel.Server.Security;

namespace MarketIntel.Server.Api;

/// <summary><c>GET /assets?search=&amp;page=&amp;size=</c>: the grid's active assets, a page at a time (reader role).</summary>
internal static class AssetsHttpApi
{
    /// <summary>The paths, for the index.</summary>
    internal static readonly (string Path, string What)[] Paths =
    [
        ("GET /assets", "the active assets by symbol, a page at a time, each with its latest bar, served version, prediction and drifting flag; ?search=FRAGMENT&page=N&size=N (reader)"),
    ];

    public static void MapAssetsHttpApi(this IEndpointRouteBuilder app)
    {
        var query = app.ServiceProvider.GetRequiredService<AssetsQuery>();
        app.MapGet("/assets", (HttpContext http) => ModelsHttpApi.Answer(http, async () => await Find(query, http.Request), Write))
            .WithMetadata(new RequiresRoleAttribute(ApiRole.Reader));
    }

    private static Task<AssetPage> Find(AssetsQuery query, HttpRequest request)
    {
        (string search, int page, int size) = PageAsked(request);
        return query.Find(search, page, size);
    }

    /// <summary>The page a request asks for: <c>search</c> (default empty), <c>page</c> (default 1) and <c>size</c> (default 50).</summary>
    /// <exception cref="GridException">A page or size that is not a whole number.</exception>
    internal static (string Search, int Page, int Size) PageAsked(HttpRequest request) =>
        (request.Query["search"].ToString(), Number("page", request.Query["page"], 1), Number("size", request.Query["size"], AssetsQuery.DefaultPageSize));

    // A query parameter that must be a whole number; absent: the default. Its range is the query's to check.
    private static int Number(string name, string? text, int absent) =>
        string.IsNullOrEmpty(text) ? absent
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value
        : throw Errors.InvalidArgument($"{name}: '{(text.Length > 20 ? text[..20] + "..." : text)}' is not a whole number");

    private static void Write(Utf8JsonWriter json, AssetPage page)
    {
        json.WriteStartObject();
        json.WriteNumber("total", page.Total);
        json.WriteNumber("page", page.Page);
        json.WriteNumber("size", page.Size);
        json.WriteStartArray("assets");
        foreach (AssetSummary asset in page.Assets)
        {
            Write(json, asset);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>One asset's summary: the row of the console's table, also sent by its live feed.</summary>
    internal static void Write(Utf8JsonWriter json, AssetSummary asset)
    {
        json.WriteStartObject();
        json.WriteString("asset", asset.Asset);
        if (asset.LatestBar is { } latest)
        {
            json.WriteString("latestBar", FeatureJson.FormatTime(latest));
        }
        else
        {
            json.WriteNull("latestBar");
        }
        WritePrediction(json, asset.Prediction);
        json.WriteBoolean("drifting", asset.Drifting);
        json.WriteEndObject();
    }

    /// <summary>The served version and its first output, null where there is no prediction.</summary>
    internal static void WritePrediction(Utf8JsonWriter json, PredictionResult? prediction)
    {
        if (prediction is null)
        {
            json.WriteNull("model");
            json.WriteNull("version");
            json.WriteNull("prediction");
            return;
        }
        json.WriteString("model", prediction.Model.Name);
        json.WriteString("version", prediction.Model.Version);
        if (prediction.Values.Count > 0 && float.IsFinite(prediction.Values[0]))
        {
            json.WriteNumber("prediction", prediction.Values[0]);
        }
        else
        {
            json.WriteNull("prediction");
        }
    }
}
