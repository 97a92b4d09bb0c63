using System.Text.Encodings.Web;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Server.Application;
using MarketIntel.Server.Hosting;
using MarketIntel.Server.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Api;

/// <summary>
/// The HTTP/JSON API for curl and simple clients: <c>GET /predict/{asset}</c>, <c>PUT /features/{asset}</c>,
/// <c>GET /features/{asset}</c>, and <c>GET /</c>, an index of them. Errors are 400, 404 or 409 with
/// <c>{"error": "...", "code": "..."}</c>.
/// </summary>
internal static class HttpApi
{
    // The default encoder escapes every character that is special in HTML (' " < > & +) and everything outside
    // ASCII, which guards a JSON text pasted into an HTML page or a <script> block: errors then read "asset
    // \u0027X\u0027". These bodies are only ever served as application/json, which no browser renders as HTML or
    // runs as script, and the relaxed encoder still escapes what JSON itself requires (quotes, backslashes and
    // control characters), so every body stays valid JSON and apostrophes and non-ASCII symbols stay readable.
    private static readonly JsonWriterOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void MapGridHttpApi(this IEndpointRouteBuilder app)
    {
        // A singleton: resolved once here rather than from a per-request scope on every call.
        var operations = app.ServiceProvider.GetRequiredService<GridOperations>();
        app.MapGet("/predict/{asset}", (string asset, HttpContext http) => Predict(Symbol(asset, http), http, operations))
            .WithMetadata(new RequiresRoleAttribute(ApiRole.Reader));
        app.MapGet("/features/{asset}", (string asset, HttpContext http) => GetFeatures(Symbol(asset, http), http, operations))
            .WithMetadata(new RequiresRoleAttribute(ApiRole.Reader));
        app.MapPut("/features/{asset}", (string asset, HttpContext http) => PutFeatures(Symbol(asset, http), http, operations))
            .WithMetadata(new RequiresRoleAttribute(ApiRole.Writer));
        // The liveness probe answers without a key: it says nothing but that the process serves.
        app.MapGet("/healthz", () => Results.Text("ok\n")).AllowAnonymous();
        // So is the readiness probe: it names failing dependencies (silo, models, postgresql, redis), never a secret.
        app.MapGet("/readyz", new Cluster.Readiness(app.ServiceProvider).Answer).AllowAnonymous();
        app.MapModelsHttpApi();
        // The index answers without a key too: a first request to the root should show where to go, and it names
        // only the paths docs/api.md publishes (no asset, model, key or version), each still guarded by its own role.
        var index = Index(app.ServiceProvider.GetRequiredService<IOptions<ServerOptions>>().Value);
        app.MapGet("/", (HttpContext http) => WriteJson(http, StatusCodes.Status200OK, index, WriteIndex)).AllowAnonymous();
    }

    /// <summary>What <c>GET /</c> lists: the API's paths with the role each needs, /metrics and the dashboard as configured.</summary>
    internal static IndexPage Index(ServerOptions server) => new(
        [
            ("GET /predict/{asset}", "the asset's prediction (reader)"),
            ("GET /features/{asset}", "the asset's latest features (reader)"),
            ("PUT /features/{asset}", "a JSON array of numbers: the asset's pushed feature vector (writer)"),
            ("GET /models/{name}/scores", "the live outcome scores of a model's versions, over every asset or ?asset=SYMBOL (reader)"),
            ("GET /healthz", "liveness (no key)"),
            ("GET /readyz", "readiness: 200 ready, or 503 naming each failing dependency (no key)"),
            .. ModelsHttpApi.Paths,
            .. DriftHttpApi.Paths,
            .. RetrainHttpApi.Paths,
            .. AssetsHttpApi.Paths,
            .. WebConsole.ConsoleEndpoints.Paths,
        ],
        server.MetricsPort > 0 ? $":{server.MetricsPort}/metrics" : "/metrics",
        server.Dashboard ? server.DashboardPath : null,
        server.GrpcPort);

    internal sealed record IndexPage(IReadOnlyList<(string Path, string What)> Api, string Metrics, string? Dashboard, int GrpcPort);

    private static void WriteIndex(Utf8JsonWriter json, IndexPage index)
    {
        json.WriteStartObject();
        json.WriteString("service", "MarketIntel prediction grid");
        json.WriteStartObject("http");
        foreach (var (path, what) in index.Api)
        {
            json.WriteString(path, what);
        }
        json.WriteEndObject();
        json.WriteString("grpc", $"port {index.GrpcPort}: service marketintel.v1.Grid (src/MarketIntel.Api.Contracts/marketintel.proto)");
        json.WriteString("metrics", index.Metrics);
        if (index.Dashboard is { } dashboard)
        {
            json.WriteString("dashboard", dashboard);
        }
        json.WriteString("docs", "docs/api.md");
        json.WriteEndObject();
    }

    /// <summary>
    /// The asset symbol of a request to <c>/.../{asset}</c>. Kestrel decodes every escape in the path except
    /// <c>%2F</c>, so a symbol such as <c>BRK/B</c> (sent as <c>BRK%2FB</c>) would reach the route still
    /// escaped, and a decoded <c>%25</c> could not be told from an escape. Such paths are decoded here once from
    /// the raw request target, so HTTP names the same asset as gRPC does.
    /// </summary>
    internal static string Symbol(string routeValue, HttpContext http)
    {
        if (!routeValue.Contains('%', StringComparison.Ordinal))
        {
            return routeValue;
        }
        string raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? routeValue;
        int query = raw.IndexOf('?', StringComparison.Ordinal);
        string path = query >= 0 ? raw[..query] : raw;
        return Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..]);
    }

    private static Task Predict(string asset, HttpContext http, GridOperations operations) =>
        Answer(http, asset, operations, static (grid, symbol) => grid.Predict(symbol), WritePrediction);

    private static Task GetFeatures(string asset, HttpContext http, GridOperations operations) =>
        Answer(http, asset, operations, static (grid, symbol) => new ValueTask<FeatureSnapshot>(grid.GetFeatures(symbol)), FeatureJson.Write);

    // Runs one grid operation for the asset and writes its result as JSON with 200, or its error. The delegates are
    // static (cached by the compiler), so the prediction path allocates nothing here.
    private static async Task Answer<T>(HttpContext http, string asset, GridOperations operations,
        Func<GridOperations, string, ValueTask<T>> call, Action<Utf8JsonWriter, T> write)
    {
        T result;
        try
        {
            result = await call(operations, Mapping.Asset(asset));
        }
        catch (Exception e) when (Errors.AsGridError(e) is { } grid)
        {
            await WriteError(http, grid);
            return;
        }
        await WriteJson(http, StatusCodes.Status200OK, result, write);
    }

    private static void WritePrediction(Utf8JsonWriter json, PredictionResult result)
    {
        json.WriteStartObject();
        json.WriteString("asset", result.Asset);
        WriteNumber(json, "prediction", result.Values.Count > 0 ? result.Values[0] : float.NaN);
        if (result.Values.Count > 1)
        {
            json.WriteStartArray("values");
            foreach (float v in result.Values)
            {
                WriteNumber(json, null, v);
            }
            json.WriteEndArray();
        }
        json.WriteString("model", result.Model.Name);
        json.WriteString("version", result.Model.Version);
        json.WriteString(FeatureJson.AsOfProperty, FeatureJson.FormatTime(result.AsOf));
        json.WriteEndObject();
    }

    private static async Task PutFeatures(string asset, HttpContext http, GridOperations operations)
    {
        try
        {
            string symbol = Mapping.Asset(asset);
            await operations.PushFeatures(symbol, await ReadVector(http));
            http.Response.StatusCode = StatusCodes.Status204NoContent;
        }
        catch (Exception e) when (Errors.AsGridError(e) is { } grid)
        {
            await WriteError(http, grid);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's limit (Limits:MaxRequestBodyBytes), met before reading or while reading a chunked body.
            long? limit = http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
            string size = http.Request.ContentLength is { } n ? $"{n} bytes" : "the chunked body";
            await WriteError(http, new GridException(GridErrorKind.ResourceExhausted,
                $"body: {size} is over the limit of {limit} bytes (setting Limits:MaxRequestBodyBytes)"), StatusCodes.Status413PayloadTooLarge);
        }
    }

    // The body as a vector: a JSON array of numbers, each within float range.
    private static async Task<float[]> ReadVector(HttpContext http)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
        }
        catch (JsonException e)
        {
            throw Errors.InvalidArgument($"body: not valid JSON ({e.Message})");
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
            {
                throw Errors.InvalidArgument($"body: expected a JSON array of numbers, got {Describe(root.ValueKind)}");
            }
            var values = new float[root.GetArrayLength()];
            int i = 0;
            foreach (JsonElement element in root.EnumerateArray())
            {
                if (element.ValueKind == JsonValueKind.Null)
                {
                    // null is a missing value, which tree models send to the default child.
                    values[i++] = float.NaN;
                    continue;
                }
                if (element.ValueKind != JsonValueKind.Number)
                {
                    throw Errors.InvalidArgument($"body[{i}]: expected a number or null, got {Describe(element.ValueKind)}");
                }
                double v = element.GetDouble();
                if (Math.Abs(v) > float.MaxValue)
                {
                    throw Errors.InvalidArgument($"body[{i}]: {element.GetRawText()} is outside the range of a 32-bit float");
                }
                values[i++] = (float)v;
            }
            return values;
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    private static void WriteNumber(Utf8JsonWriter json, string? name, float value)
    {
        if (name is not null)
        {
            json.WritePropertyName(name);
        }
        if (float.IsFinite(value))
        {
            json.WriteNumberValue(value);
        }
        else
        {
            json.WriteNullValue();
        }
    }

    internal static Task WriteError(HttpContext http, GridException e, int? status = null)
    {
        if (e.RetryAfter is { } wait)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return WriteJson(http, status ?? Errors.HttpStatus(e.Kind), e, static (json, e) =>
        {
            json.WriteStartObject();
            json.WriteString("error", e.Message);
            json.WriteString("code", Errors.Code(e.Kind));
            json.WriteEndObject();
        });
    }

    // A JSON response written straight into the response pipe.
    internal static async Task WriteJson<T>(HttpContext http, int status, T state, Action<Utf8JsonWriter, T> write)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await using (var json = new Utf8JsonWriter(http.Response.BodyWriter, Readable))
        {
            write(json, state);
        }
        await http.Response.BodyWriter.FlushAsync(http.RequestAborted);
    }
}
