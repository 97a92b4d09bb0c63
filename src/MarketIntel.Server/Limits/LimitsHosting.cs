using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Limits;

/// <summary>Request limits that depend on the protocol.</summary>
internal static class LimitsHosting
{
    /// <summary>Whether a request is a gRPC call.</summary>
    public static bool IsGrpc(HttpContext http) => http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>
    /// Kestrel's body limit (<see cref="LimitsOptions.MaxRequestBodyBytes"/>) covers every request, and gRPC only
    /// lifts it for streaming calls: a unary call carrying a model (RegisterModel) gets the gRPC message limit
    /// instead, plus its 5-byte frame header.
    /// </summary>
    public static void UseGridLimits(this WebApplication app)
    {
        int grpcBody = app.Services.GetRequiredService<IOptions<LimitsOptions>>().Value.MaxGrpcMessageBytes + 5;
        app.Use((http, next) =>
        {
            if (IsGrpc(http) && http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body)
            {
                body.MaxRequestBodySize = grpcBody;
            }
            return next(http);
        });
    }
}
