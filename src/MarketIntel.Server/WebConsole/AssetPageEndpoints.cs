using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using MarketIntel.Abstractions;
using MarketIntel.Grains;
using MarketIntel.Server.Api;
using MarketIntel.Server.Application;
using V1 = MarketIntel.Api.V1;

namespace MarketIntel.Server.WebConsole;

/// <summary>
/// The console's page of one asset, <c>/ui/asset?symbol=X</c> (docs/console.md), and the charts it shows:
/// <c>GET /ui/charts/drift/{asset}/{feature}.svg</c>, one series' reference and live histograms side by side, drawn
/// by <see cref="DriftHistogram"/> from the asset's drift window as last stored, and
/// <c>GET /ui/charts/price/{asset}.svg</c>, the closes of the bars the asset's grain keeps with the served version's
/// prediction after each, drawn by <see cref="PriceChart"/>. Like every <c>/ui</c> path they need the admin role when
/// keys are on.
/// </summary>
internal static class AssetPageEndpoints
{
    /// <summary>The chart sizes a request may ask for (<c>?width=</c>, <c>?height=</c>), in pixels.</summary>
    public const int MinChartSize = 200, MaxChartSize = 2400;

    public static void MapAssetPage(this IEndpointRouteBuilder app)
    {
        var drift = app.ServiceProvider.GetRequiredService<DriftQuery>();
        var grains = app.ServiceProvider.GetRequiredService<IGrainFactory>();
        app.MapGet(ConsoleEndpoints.Root + "/asset", (HttpContext http) => ConsoleEndpoints.Serve(http, "asset.html"));
        app.MapGet(ConsoleEndpoints.Root + "/charts/drift/{asset}/{feature}.svg", (string asset, string feature, HttpContext http) =>
            DriftChart(http, drift, asset, feature));
        app.MapGet(ConsoleEndpoints.Root + "/charts/price/{asset}.svg", (string asset, HttpContext http) => PriceChartSvg(http, grains, asset));
    }

    private static async Task PriceChartSvg(HttpContext http, IGrainFactory grains, string assetRoute)
    {
        string svg;
        try
        {
            string asset = Mapping.Asset(AssetSegment(http, assetRoute, last: true));
            int width = Size(http, "width", 720), height = Size(http, "height", 360);
            // Every bar the ring keeps (Grid:HistoryLength): the grain caps the count.
            AssetHistory history = await GrainRetry.OnRejection(() => grains.GetGrain<IAssetGrain>(asset).GetHistory(int.MaxValue));
            svg = PriceChart.Svg(history, width, height);
        }
        catch (Exception e) when (Errors.AsGridError(e) is { } grid)
        {
            await HttpApi.WriteError(http, grid);
            return;
        }
        await WriteSvg(http, svg);
    }

    private static async Task WriteSvg(HttpContext http, string svg)
    {
        http.Response.ContentType = "image/svg+xml; charset=utf-8";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers.CacheControl = "no-cache";
        await http.Response.WriteAsync(svg, http.RequestAborted);
    }

    private static async Task DriftChart(HttpContext http, DriftQuery query, string assetRoute, string feature)
    {
        string svg;
        try
        {
            // Parameters first: a bad one is a 400 whether or not the asset exists.
            string asset = Mapping.Asset(AssetSegment(http, assetRoute, last: false));
            int width = Size(http, "width", 720), height = Size(http, "height", 360);
            if (await query.StoredWindow(asset) is not var (drift, counts, profile))
            {
                throw new GridException(GridErrorKind.NotFound,
                    $"asset {asset}: no drift window of a version with a reference profile is stored yet (windows are written every Grid:Drift:FlushInterval)");
            }
            V1.AssetDrift message = DriftMapping.ToMessage((drift, counts, profile), withCounts: true);
            V1.FeatureDrift series = message.Features.Append(message.Prediction).FirstOrDefault(f => f?.Name == feature)
                ?? throw new GridException(GridErrorKind.NotFound,
                    $"feature: {counts.Model.Name}:{counts.Model.Version} has no input or prediction named '{Shown(feature)}' (asset {asset})");
            // The version is on the page beside the chart; the title stays short enough for the default width.
            svg = DriftHistogram.Svg($"{asset} {feature} ({counts.Count} of {counts.Window} bars)", series, width, height);
        }
        catch (Exception e) when (Errors.AsGridError(e) is { } grid)
        {
            await HttpApi.WriteError(http, grid);
            return;
        }
        await WriteSvg(http, svg);
    }

    // The route leaves an encoded '/' (%2F) in a value and decodes the rest, so a symbol holding '/' is taken from the
    // raw path, decoded once: the last segment less ".svg" (a price chart), or the one before the chart's name.
    private static string AssetSegment(HttpContext http, string routeValue, bool last)
    {
        if (!routeValue.Contains('%', StringComparison.Ordinal))
        {
            return routeValue;
        }
        string raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? routeValue;
        int query = raw.IndexOf('?', StringComparison.Ordinal);
        string[] segments = (query >= 0 ? raw[..query] : raw).Split('/');
        if (segments.Length < 2)
        {
            return routeValue;
        }
        return Uri.UnescapeDataString(last ? segments[^1][..^".svg".Length] : segments[^2]);
    }

    private static int Size(HttpContext http, string name, int fallback)
    {
        if (http.Request.Query[name] is not { Count: > 0 } values)
        {
            return fallback;
        }
        string text = values.ToString();
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int size) && size is >= MinChartSize and <= MaxChartSize
            ? size
            : throw Errors.InvalidArgument($"{name}: '{Shown(text)}' must be a whole number of pixels from {MinChartSize} to {MaxChartSize}");
    }

    private static string Shown(string text) => text.Length > 64 ? text[..64] + "..." : text;
}
