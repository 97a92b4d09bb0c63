using System.Diagnostics.Metrics;
using System.Text;
using MarketIntel.Abstractions;
using MarketIntel.Server.Api;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Features;

namespace MarketIntel.Server.Security;

/// <summary>
/// Lets a request through when it presents an active API key (or a valid JWT, <see cref="JwtValidator"/>) whose role covers the endpoint's
/// <see cref="RequiresRoleAttribute"/> (admin where none is set; any key for a path that matches no endpoint), or
/// when the endpoint allows anonymous access (<c>/healthz</c>). Keys come as <c>authorization: Bearer KEY</c> on
/// gRPC and HTTP alike, or as HTTP Basic's password so that a browser can open the dashboard. Refusals are
/// UNAUTHENTICATED / 401 without a valid key and PERMISSION_DENIED / 403 for a role that may not; admin calls other
/// than page views, and every refusal of a known key, go to the audit log with the key's name.
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, IServiceProvider services, ILoggerFactory loggers, IMeterFactory meters)
{
    /// <summary>The <see cref="Caller"/> a request was let through as, under this <see cref="HttpContext.Items"/> key.</summary>
    public const string KeyItem = "marketintel.caller";

    // Either may be off: keys from a file or PostgreSQL, tokens from an OIDC issuer.
    private readonly ApiKeyAuthenticator? _keys = services.GetService<ApiKeyAuthenticator>();
    private readonly JwtValidator? _tokens = services.GetService<JwtValidator>();

    private readonly Refusals _refusals = new(meters);

    private readonly ILogger _audit = loggers.CreateLogger(AuditLog.Category);

    public async Task InvokeAsync(HttpContext http)
    {
        Endpoint? endpoint = http.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            await next(http);
            return;
        }
        ApiRole required = endpoint is null ? ApiRole.Reader : endpoint.Metadata.GetMetadata<RequiresRoleAttribute>()?.Role ?? ApiRole.Admin;
        bool grpc = IsGrpc(http);
        Caller? key = await Identify(http.Request.Headers.Authorization.ToString());
        if (key is null)
        {
            _refusals.Unauthenticated();
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"marketintel\", Basic realm=\"marketintel\"";
            await Refuse(http, grpc, new GridException(GridErrorKind.Unauthenticated,
                "a valid API key is required: send 'authorization: Bearer KEY' (keys come from 'marketintel keys create')"));
            return;
        }
        if (key.Role is not { } role || role < required)
        {
            string action = Action(http, grpc);
            _refusals.Forbidden();
            string held = key.Role?.Name() ?? "none";
            AuditLog.Refused(_audit, key.Name, held, action, required.Name());
            await Refuse(http, grpc, new GridException(GridErrorKind.PermissionDenied,
                $"key '{key.Name}' has role {held}; {action} needs {required.Name()}"));
            return;
        }
        http.Items[KeyItem] = key;
        if (required < ApiRole.Admin || (!grpc && (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))))
        {
            await next(http);
            return;
        }
        try
        {
            await next(http);
        }
        finally
        {
            string action = Action(http, grpc), outcome = Outcome(http, grpc);
            AuditLog.AdminAction(_audit, key.Name, action, outcome);
        }
    }

    // What a request asks, for the audit log and refusals. The path comes from the client and goes into the log
    // and the answer: no control characters, no novel.
    private static string Action(HttpContext http, bool grpc)
    {
        string action = grpc ? http.Request.Path.Value ?? "" : $"{http.Request.Method} {http.Request.Path.Value}";
        string clipped = action.Length > 200 ? action[..200] + "..." : action;
        return clipped.Any(char.IsControl) ? new string(clipped.Select(c => char.IsControl(c) ? '?' : c).ToArray()) : clipped;
    }

    /// <summary>Whether a request is a gRPC call.</summary>
    internal static bool IsGrpc(HttpContext http) => Limits.LimitsHosting.IsGrpc(http);

    // An API key (mik_...) checked against the stored hashes, or a JWT checked against the issuer's keys. The
    // common case, a known key as a bearer token, reads the header in place and allocates nothing.
    private async ValueTask<Caller?> Identify(string header)
    {
        ReadOnlySpan<char> value = header.AsSpan().Trim();
        if (value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            ReadOnlySpan<char> token = value["Bearer ".Length..].Trim();
            if (_tokens is not null && JwtValidator.LooksLikeJwt(token))
            {
                return await _tokens.Validate(token.ToString());
            }
            return _keys?.Authenticate(token);
        }
        return Basic(value) is { } password ? _keys?.Authenticate(password) : null;
    }

    // HTTP Basic's password (the user name is ignored), so that a browser can send a key.
    private static string? Basic(ReadOnlySpan<char> value)
    {
        if (value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value["Basic ".Length..].Trim().ToString()));
                int colon = decoded.IndexOf(':', StringComparison.Ordinal);
                return colon < 0 ? null : decoded[(colon + 1)..];
            }
            catch (FormatException)
            {
                return null;
            }
        }
        return null;
    }

    /// <summary>Answers a request with a grid error, as gRPC (a trailers-only answer) or as HTTP/JSON.</summary>
    internal static Task Refuse(HttpContext http, bool grpc, GridException error)
    {
        if (!grpc)
        {
            return HttpApi.WriteError(http, error);
        }
        // A trailers-only gRPC answer: the status travels in the response headers and the stream ends there.
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/grpc";
        http.Response.Headers["grpc-status"] = ((int)Errors.GrpcStatus(error.Kind)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        http.Response.Headers["grpc-message"] = GrpcMessage(error.Message);
        return Task.CompletedTask;
    }

    // grpc-message is percent-encoded: printable ASCII but '%' as is, everything else as %XX of its UTF-8 bytes.
    private static string GrpcMessage(string message)
    {
        var text = new StringBuilder(message.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7e and not (byte)'%')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return text.ToString();
    }

    private static string Outcome(HttpContext http, bool grpc)
    {
        if (!grpc)
        {
            return http.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        string? status = http.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"].ToString();
        if (string.IsNullOrEmpty(status))
        {
            status = http.Response.Headers["grpc-status"].ToString();
        }
        return string.IsNullOrEmpty(status) ? "no status (the call was cut off)" : $"grpc-status {status}";
    }
}

/// <summary>Requests <see cref="ApiKeyMiddleware"/> refused, by reason, on this silo's meter.</summary>
internal sealed class Refusals
{
    /// <summary>The name of this component's meter.</summary>
    public const string MeterName = "MarketIntel.Security";

    private long _unauthenticated;
    private long _forbidden;

    public Refusals(IMeterFactory meters) =>
        meters.Create(MeterName).CreateObservableCounter("marketintel_auth_denied_total", () => new Measurement<long>[]
            {
                new(Interlocked.Read(ref _unauthenticated), new KeyValuePair<string, object?>("reason", "unauthenticated")),
                new(Interlocked.Read(ref _forbidden), new KeyValuePair<string, object?>("reason", "forbidden")),
            },
            unit: null, "Requests refused for want of a valid API key (unauthenticated) or of a role (forbidden)");

    /// <summary>A request without a valid key or token.</summary>
    public void Unauthenticated() => Interlocked.Increment(ref _unauthenticated);

    /// <summary>A request whose key's role may not call the endpoint.</summary>
    public void Forbidden() => Interlocked.Increment(ref _forbidden);
}

/// <summary>The audit log: who did what with an admin key, and who was refused. Its category can be routed apart.</summary>
internal static partial class AuditLog
{
    public const string Category = "MarketIntel.Audit";

    [LoggerMessage(Level = LogLevel.Information, Message = "audit: key '{Key}' {Action}: {Outcome}")]
    public static partial void AdminAction(ILogger logger, string key, string action, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "audit: key '{Key}' (role {Role}) refused {Action}, which needs {Required}")]
    public static partial void Refused(ILogger logger, string key, string role, string action, string required);
}
