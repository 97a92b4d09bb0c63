using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Server.Api;
using MarketIntel.Server.Application;
using MarketIntel.Server.Security;

namespace MarketIntel.Server.WebConsole;

/// <summary>
/// The web console at <c>/ui</c> (docs/console.md): its pages and their scripts and styles, served from resources
/// embedded in this assembly (nothing to build or install on the user's side), and its live feed,
/// <c>/ui/events</c>, server-sent events of the predictions of one page of the assets table. Every path needs the
/// admin role when keys are on (no <see cref="RequiresRoleAttribute"/>: the middleware's default); a browser sends
/// the key as HTTP Basic's password.
/// </summary>
internal static class ConsoleEndpoints
{
    /// <summary>Where the console lives.</summary>
    public const string Root = "/ui";

    // The embedded files by name ("app.js"), with their media types. Only these names are ever served: a request for
    // anything else is a 404 before any file system is involved, so no path can reach outside them.
    private static readonly FrozenDictionary<string, (byte[] Bytes, string MediaType)> Files = LoadFiles();

    /// <summary>The console's Content-Security-Policy: scripts, styles and images from this origin only.</summary>
    internal const string Policy = "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'";

    /// <summary>The paths, for the index.</summary>
    internal static readonly (string Path, string What)[] Paths =
    [
        ("GET /ui", "the web console: the assets table, live (admin; a browser sends the key as the Basic password)"),
        ("GET /ui/reports", "the console's backtest reports: the page, or (Accept: application/json) the report folders in MarketIntel:Console:ReportsDirectory"),
        ("GET /ui/reports/{report}/{file}", "one file of a backtest report, read-only, sandboxed"),
    ];

    public static void MapConsole(this IEndpointRouteBuilder app)
    {
        var assets = app.ServiceProvider.GetRequiredService<AssetsQuery>();
        var live = app.ServiceProvider.GetRequiredService<LivePredictions>();
        app.MapGet(Root, (HttpContext http) => Serve(http, "assets.html"));
        app.MapGet(Root + "/static/{file}", (string file, HttpContext http) => Serve(http, file));
        app.MapGet(Root + "/events", (HttpContext http) => Events(http, assets, live));
        app.MapConsoleModels();
        app.MapAssetPage();
        app.MapConsoleReports();
    }

    private static FrozenDictionary<string, (byte[], string)> LoadFiles()
    {
        const string prefix = "console/";
        var assembly = typeof(ConsoleEndpoints).Assembly;
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var bytes = new MemoryStream();
            stream.CopyTo(bytes);
            string name = resource[prefix.Length..];
            files[name] = (bytes.ToArray(), MediaType(name));
        }
        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string MediaType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        _ => throw new InvalidOperationException($"console file {name}: no media type for its extension"),
    };

    /// <summary>Answers one embedded file by its name, with the console's security headers; 404 for any other name.</summary>
    internal static Task Serve(HttpContext http, string name)
    {
        if (!Files.TryGetValue(name, out var file))
        {
            string shown = name.Length > 64 ? name[..64] + "..." : name;
            return HttpApi.WriteError(http, new GridException(GridErrorKind.NotFound, $"the console has no file '{shown}'"));
        }
        http.Response.ContentType = file.MediaType;
        // Scripts and styles come from this origin only, and nothing inline runs: data shown on a page (symbols,
        // model names) is put in as text, and even if it were not it could not run as script.
        http.Response.Headers.ContentSecurityPolicy = Policy;
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers.CacheControl = "no-cache";
        return http.Response.Body.WriteAsync(file.Bytes).AsTask();
    }

    // The live feed of one page of the assets table (the same search, page and size as GET /assets): one event per new
    // prediction, {"asset":..,"asOf":..,"model":..,"version":..,"prediction":..}. The page's assets are fixed when the
    // stream opens; the page opens a new stream when it shows other assets.
    private static async Task Events(HttpContext http, AssetsQuery assets, LivePredictions live)
    {
        bool opened = false;
        try
        {
            (string search, int page, int size) = AssetsHttpApi.PageAsked(http.Request);
            (_, string[] shown) = await assets.Symbols(search, page, size);
            await live.Run(shown, http.Items[ApiKeyMiddleware.KeyItem] as Caller,
                async () =>
                {
                    http.Response.ContentType = "text/event-stream";
                    http.Response.Headers.CacheControl = "no-cache";
                    opened = true;
                    // A comment line: the browser's EventSource reports the stream open at once.
                    await http.Response.WriteAsync($": watching {shown.Length} assets\n\n", http.RequestAborted);
                    await http.Response.Body.FlushAsync(http.RequestAborted);
                },
                (prediction, ended) => WriteEvent(http, prediction, ended), http.RequestAborted);
        }
        catch (Exception e) when (!opened && Errors.AsGridError(e) is { } grid)
        {
            await HttpApi.WriteError(http, grid);
        }
        catch (GridException) when (opened)
        {
            // A client that stalled is cut off; the stream simply ends (a browser's EventSource opens a new one).
        }
    }

    private static async Task WriteEvent(HttpContext http, PredictionResult prediction, CancellationToken ended)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write("data: "u8);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("asset", prediction.Asset);
            json.WriteString("asOf", FeatureJson.FormatTime(prediction.AsOf));
            AssetsHttpApi.WritePrediction(json, prediction);
            json.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        await http.Response.Body.WriteAsync(buffer.WrittenMemory, ended);
        await http.Response.Body.FlushAsync(ended);
    }
}
