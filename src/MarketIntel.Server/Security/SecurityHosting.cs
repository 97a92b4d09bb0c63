using System.Threading.RateLimiting;
using MarketIntel.Abstractions;
using MarketIntel.Server.Limits;
using Microsoft.AspNetCore.RateLimiting;
using MarketIntel.Storage.Postgres.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MarketIntel.Server.Security;

/// <summary>Puts API keys and tokens in front of the grid's endpoints when <see cref="AuthOptions"/> turns them on, with the per-key request rate.</summary>
public static partial class SecurityHosting
{
    /// <summary>
    /// Binds section <c>Auth</c> and, when it is on, registers the key store (the key file, else the cluster's
    /// PostgreSQL), the authenticator that holds the keys, the token validator and the per-key rate limiter. The
    /// options are registered and were checked with the host's others (<c>GridConfiguration</c>).
    /// </summary>
    public static AuthOptions AddGridSecurity(this WebApplicationBuilder builder, LimitsOptions limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(builder);
        var auth = new AuthOptions();
        builder.Configuration.GetSection(AuthOptions.Section).Bind(auth);
        if (!auth.IsOn)
        {
            return auth;
        }
        if (auth.Jwt.IsOn)
        {
            builder.Services.AddSingleton(new JwtValidator(auth.Jwt));
        }
        // Keys from the key file in either mode, else from the cluster's PostgreSQL when --auth turns them on there
        // (with only tokens configured, there is no key store).
        bool clusterKeys = auth.Enabled && builder.Configuration.GetValue<bool>("Cluster:Enabled");
        if (!string.IsNullOrEmpty(auth.KeysFile))
        {
            builder.Services.AddSingleton<IApiKeyStore>(new FileApiKeyStore(auth.KeysFile));
        }
        else if (clusterKeys)
        {
            // The silo's own PostgreSQL data source, registered by AddMarketIntelPostgres.
            builder.Services.AddSingleton<IApiKeyStore>(sp => new PostgresApiKeyStore(sp.GetRequiredService<NpgsqlDataSource>()));
        }
        if (!string.IsNullOrEmpty(auth.KeysFile) || clusterKeys)
        {
            builder.Services.AddSingleton<ApiKeyAuthenticator>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<ApiKeyAuthenticator>());
        }
        if (limits.RequestsPerSecondPerKey is { } rate)
        {
            builder.Services.AddRateLimiter(o =>
            {
                // One token bucket per key, refilled every 100 ms; a burst of one second's worth is allowed.
                o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                    http.Items[ApiKeyMiddleware.KeyItem] is Caller key
                        ? RateLimitPartition.GetTokenBucketLimiter(key.Name, _ => new TokenBucketRateLimiterOptions
                        {
                            TokenLimit = rate,
                            TokensPerPeriod = Math.Max(1, rate / 10),
                            ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                            QueueLimit = 0,
                            AutoReplenishment = true,
                        })
                        : RateLimitPartition.GetNoLimiter(""));
                o.OnRejected = (context, _) => new ValueTask(ApiKeyMiddleware.Refuse(context.HttpContext, ApiKeyMiddleware.IsGrpc(context.HttpContext),
                    new GridException(GridErrorKind.ResourceExhausted,
                        $"key '{(context.HttpContext.Items[ApiKeyMiddleware.KeyItem] as Caller)?.Name}' is over its limit of {rate} requests per second (setting {LimitsOptions.Section}:{nameof(LimitsOptions.RequestsPerSecondPerKey)})")));
            });
        }
        return auth;
    }

    /// <summary>Checks every request's key (after the request metrics, so refusals are counted too).</summary>
    public static void UseGridSecurity(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var listen = app.Services.GetRequiredService<IOptions<Hosting.ServerOptions>>().Value.ListenAddress;
        if (!app.Services.GetRequiredService<IOptions<TlsOptions>>().Value.IsOn
            && System.Net.IPAddress.TryParse(listen, out var address) && !System.Net.IPAddress.IsLoopback(address))
        {
            ClearText(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SecurityHosting)), listen);
        }
        if (app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.IsOn)
        {
            app.UseMiddleware<ApiKeyMiddleware>();
            if (app.Services.GetRequiredService<IOptions<LimitsOptions>>().Value.RequestsPerSecondPerKey is not null)
            {
                app.UseRateLimiter();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening on {Address} without TLS: API keys and data cross the network in clear text; serve with --tls-cert unless the network is private")]
    private static partial void ClearText(ILogger logger, string address);
}
