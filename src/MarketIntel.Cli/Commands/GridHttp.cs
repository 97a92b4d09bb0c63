using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Grpc.Net.Client;
using MarketIntel.CommandLine;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The grid's HTTP/JSON API as a command line names it (<c>--target http://HOST:PORT</c> or <c>https://HOST:PORT</c>,
/// the API key as a bearer token, <c>--tls-ca</c> for https): each call answers the response's JSON, and a failure reads
/// as one line naming the target, the HTTP status and the grid's error message.
/// </summary>
internal sealed class GridHttp : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _target;

    public GridHttp(string target, string? apiKey, string? trustedCa)
    {
        if (!Uri.TryCreate(target, UriKind.Absolute, out Uri? root) || root.Scheme is not ("http" or "https") || root.AbsolutePath != "/")
        {
            throw new UsageException($"--target '{target}' must look like http://HOST:PORT, https://HOST:PORT, grpc://HOST:PORT or grpcs://HOST:PORT");
        }
        if (trustedCa is not null && root.Scheme != "https")
        {
            throw new UsageException($"--tls-ca applies to https:// and grpcs:// targets; '{target}' is not one");
        }
        var handler = new SocketsHttpHandler();
        if (trustedCa is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = TlsTrust.Validator(trustedCa);
        }
        _http = new HttpClient(handler) { BaseAddress = root };
        if (apiKey is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        _target = target;
    }

    /// <summary>Whether <paramref name="target"/> names the HTTP API rather than gRPC.</summary>
    public static bool Names(string target) => target.StartsWith("http", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A command's client for its <c>--target</c>: over HTTP/JSON when the scheme is http(s), else over gRPC, with the
    /// command line's <c>--api-key</c> and <c>--tls-ca</c> either way.
    /// </summary>
    public static T Client<T>(string target, CliArguments options, Func<GridHttp, T> overHttp, Func<GrpcChannel, T> overGrpc)
    {
        ArgumentNullException.ThrowIfNull(overHttp);
        ArgumentNullException.ThrowIfNull(overGrpc);
        return Names(target)
            ? overHttp(new GridHttp(target, GridChannel.ApiKey(options), GridChannel.TrustedCa(options)))
            : overGrpc(GridChannel.Create(target, GridChannel.ApiKey(options), GridChannel.TrustedCa(options)));
    }

    /// <summary>
    /// Sends one request and answers its JSON body (a copy that outlives the response). <paramref name="alsoAnswer"/> is
    /// a status besides 2xx whose body is an answer rather than the grid's error (a retraining start held back: 409).
    /// </summary>
    /// <exception cref="IOException">The grid could not be reached, answered an error, or answered something other than JSON.</exception>
    public async Task<JsonElement> Send(HttpMethod method, string path, HttpContent? body = null, HttpStatusCode? alsoAnswer = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = body };
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request);
            string text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode && (response.StatusCode != alsoAnswer || IsError(text)))
            {
                throw new IOException($"{_target}: {(int)response.StatusCode}: {Error(text) ?? response.ReasonPhrase}");
            }
            using JsonDocument document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or JsonException)
        {
            throw new IOException($"{_target}: {e.Message}", e);
        }
    }

    // Whether a body is the grid's error ({"error": ..., "code": ...}) rather than an answer.
    private static bool IsError(string body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind != JsonValueKind.Object || document.RootElement.TryGetProperty("error", out _);
        }
        catch (JsonException)
        {
            return true;
        }
    }

    // The grid's error message from its JSON ({"error": ..., "code": ...}); what answered otherwise (a proxy's page),
    // in one line; null when the body is empty.
    private static string? Error(string body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out JsonElement e)
                && e.ValueKind == JsonValueKind.String)
            {
                return e.GetString();
            }
        }
        catch (JsonException)
        {
            // Not JSON: the text as it is.
        }
        string line = string.Join(' ', body.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length == 0 ? null : line;
    }

    /// <summary>Turns an answer's shape being other than expected into one line naming the target.</summary>
    public IOException Unexpected(Exception e) => new($"{_target}: unexpected answer ({e.Message})", e);

    /// <summary>
    /// Runs <paramref name="read"/> over an answer: an answer of another shape than the API's (another program on the
    /// port, another version) is one line naming the target too (<see cref="Unexpected"/>).
    /// </summary>
    public T Read<T>(Func<T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        try
        {
            return read();
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw Unexpected(e);
        }
    }

    public void Dispose() => _http.Dispose();
}
