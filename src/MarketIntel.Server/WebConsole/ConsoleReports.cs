using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Server.Api;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.WebConsole;

/// <summary>
/// The console's backtest reports (docs/console.md): <c>GET /ui/reports</c> is the page, or, asked for JSON, the
/// listing of the report folders in <see cref="ConsoleOptions.ReportsDirectory"/>; <c>GET /ui/reports/{report}/{file}</c>
/// serves one file of one report, read-only. Admin like every <c>/ui</c> path.
/// </summary>
internal static class ConsoleReports
{
    /// <summary>Where the page lives.</summary>
    public const string Path = ConsoleEndpoints.Root + "/reports";

    // Report files are served with the console's policy plus a sandbox: a report's SVG or HTML is the author's markup on
    // the admin origin, and in a sandbox its script cannot run, nor read the origin's cookies or call its API.
    private const string FilePolicy = "sandbox; " + ConsoleEndpoints.Policy;

    // The only kinds of file a report is served with, what `marketintel backtest --report` writes and little more.
    private static readonly Dictionary<string, string> MediaTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".md"] = "text/markdown; charset=utf-8",
        [".txt"] = "text/plain; charset=utf-8",
        [".csv"] = "text/csv; charset=utf-8",
        [".json"] = "application/json",
        [".html"] = "text/html; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
    };

    public static void MapConsoleReports(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<ConsoleOptions>>().Value;
        string? root = options.ReportsDirectory is { } folder ? System.IO.Path.GetFullPath(folder) : null;
        app.MapGet(Path, (HttpContext http) => Accepts(http, "application/json") ? List(http, root) : ConsoleEndpoints.Serve(http, "reports.html"));
        app.MapGet(Path + "/{report}/{file}", (string report, string file, HttpContext http) => ServeFile(http, root, report, file));
    }

    private static bool Accepts(HttpContext http, string mediaType) =>
        http.Request.Headers.Accept.Any(value => value?.Contains(mediaType, StringComparison.OrdinalIgnoreCase) == true);

    /// <summary>
    /// The listing: <c>{"setting":..,"directory":..|null,"reports":[{"name":..,"modified":..,"files":[{"name":..,"bytes":..}]}]}</c>,
    /// newest report first, with only the files <see cref="ServeFile"/> would serve.
    /// </summary>
    internal static async Task List(HttpContext http, string? root)
    {
        http.Response.ContentType = "application/json";
        http.Response.Headers.CacheControl = "no-cache";
        await using var json = new Utf8JsonWriter(http.Response.Body);
        json.WriteStartObject();
        json.WriteString("setting", Setting);
        json.WriteString("directory", root);
        json.WriteStartArray("reports");
        if (root is not null)
        {
            foreach (DirectoryInfo report in new DirectoryInfo(root).EnumerateDirectories()
                .Where(d => IsPlainName(d.Name) && d.LinkTarget is null).OrderByDescending(d => d.LastWriteTimeUtc).ThenBy(d => d.Name, StringComparer.Ordinal))
            {
                json.WriteStartObject();
                json.WriteString("name", report.Name);
                json.WriteString("modified", report.LastWriteTimeUtc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
                json.WriteStartArray("files");
                foreach (FileInfo file in report.EnumerateFiles().Where(f => Servable(f) is null).OrderBy(f => f.Name, StringComparer.Ordinal))
                {
                    json.WriteStartObject();
                    json.WriteString("name", file.Name);
                    json.WriteNumber("bytes", file.Length);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static string Setting => $"{ConsoleOptions.Section}:{nameof(ConsoleOptions.ReportsDirectory)}";

    /// <summary>One file of one report, or an error naming what is wrong; nothing but a plain file directly in a plain
    /// report folder below the directory is ever read.</summary>
    internal static Task ServeFile(HttpContext http, string? root, string report, string file)
    {
        if (root is null)
        {
            return HttpApi.WriteError(http, new GridException(GridErrorKind.NotFound, $"no reports directory is set: set {Setting} to the folder `marketintel backtest --report` writes into"));
        }
        // Each is one route segment already, but a segment may still be "..", or hold a backslash or an encoded slash.
        foreach ((string what, string name) in new[] { ("report", report), ("file", file) })
        {
            if (!IsPlainName(name))
            {
                return HttpApi.WriteError(http, new GridException(GridErrorKind.InvalidArgument, $"{what} '{Shown(name)}' is not a plain name (no slashes, no leading dot)"));
            }
        }
        var folder = new DirectoryInfo(System.IO.Path.Combine(root, report));
        if (!folder.Exists || folder.LinkTarget is not null)
        {
            return HttpApi.WriteError(http, new GridException(GridErrorKind.NotFound, $"there is no report '{Shown(report)}'"));
        }
        var info = new FileInfo(System.IO.Path.Combine(folder.FullName, file));
        if (!info.Exists)
        {
            return HttpApi.WriteError(http, new GridException(GridErrorKind.NotFound, $"report '{Shown(report)}' has no file '{Shown(file)}'"));
        }
        if (Servable(info) is { } refusal)
        {
            return HttpApi.WriteError(http, new GridException(GridErrorKind.NotFound, $"report '{Shown(report)}', file '{Shown(file)}': {refusal}"));
        }
        http.Response.ContentType = MediaTypes[info.Extension];
        http.Response.Headers.ContentSecurityPolicy = FilePolicy;
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers.CacheControl = "no-cache";
        return http.Response.SendFileAsync(info.FullName, http.RequestAborted);
    }

    // Why a file is not served, or null when it is.
    private static string? Servable(FileInfo file) =>
        !IsPlainName(file.Name) ? "not a plain name"
        : file.LinkTarget is not null ? "a link is not served"
        : !MediaTypes.ContainsKey(file.Extension) ? $"files of type '{file.Extension}' are not served (only {string.Join(", ", MediaTypes.Keys)})"
        : null;

    private static bool IsPlainName(string name) =>
        name.Length > 0 && name[0] != '.' && name.IndexOfAny(['/', '\\', '\0', '%']) < 0;

    private static string Shown(string name) => name.Length > 64 ? name[..64] + "..." : name;
}
