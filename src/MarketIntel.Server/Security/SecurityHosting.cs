using MarketIntel.Abstractions;
using MarketIntel.Storage.Postgres.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MarketIntel.Server.Security;

/// <summary>Puts API keys in front of the grid's endpoints when <see cref="AuthOptions"/> turns them on.</summary>
public static class SecurityHosting
{
    /// <summary>
    /// Binds section <c>Auth</c> and, when keys are on, registers their store (the key file, else the cluster's
    /// PostgreSQL) and the authenticator that holds them. The options were checked by <c>GridServer.ReadOptions</c>.
    /// </summary>
    public static AuthOptions AddGridSecurity(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var auth = new AuthOptions();
        builder.Configuration.GetSection(AuthOptions.Section).Bind(auth);
        builder.Services.AddSingleton(Options.Create(auth));
        if (!auth.IsOn)
        {
            return auth;
        }
        if (!string.IsNullOrEmpty(auth.KeysFile))
        {
            builder.Services.AddSingleton<IApiKeyStore>(new FileApiKeyStore(auth.KeysFile));
        }
        else
        {
            // Cluster mode: the silo's own PostgreSQL data source, registered by AddMarketIntelPostgres.
            builder.Services.AddSingleton<IApiKeyStore>(sp => new PostgresApiKeyStore(sp.GetRequiredService<NpgsqlDataSource>()));
        }
        builder.Services.AddSingleton<ApiKeyAuthenticator>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ApiKeyAuthenticator>());
        return auth;
    }

    /// <summary>Checks every request's key (after the request metrics, so refusals are counted too).</summary>
    public static void UseGridSecurity(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.Services.GetService<ApiKeyAuthenticator>() is not null)
        {
            app.UseMiddleware<ApiKeyMiddleware>();
        }
    }
}
