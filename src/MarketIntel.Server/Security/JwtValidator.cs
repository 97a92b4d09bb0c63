using System.Collections.Concurrent;
using System.Security.Cryptography;
using MarketIntel.Abstractions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace MarketIntel.Server.Security;

/// <summary>
/// JWT bearer tokens from an OIDC issuer, for teams that have one (configuration section <c>Auth:Jwt</c>): the
/// issuer's signing keys come from its discovery document (<see cref="JwtOptions.Authority"/>) or from a PEM
/// public key (<see cref="JwtOptions.SigningKeyFile"/>); the role from a claim.
/// </summary>
public sealed class JwtOptions
{
    public const string Section = "Auth:Jwt";

    /// <summary>The issuer's URL; its signing keys are read from <c>{Authority}/.well-known/openid-configuration</c>.</summary>
    public string? Authority { get; set; }

    /// <summary>A PEM public key (RSA or EC) that signs the tokens, for an issuer without discovery.</summary>
    public string? SigningKeyFile { get; set; }

    /// <summary>The issuer tokens must name (<c>iss</c>); the authority when unset.</summary>
    public string? Issuer { get; set; }

    /// <summary>The audience tokens must name (<c>aud</c>).</summary>
    public string? Audience { get; set; }

    /// <summary>The claim holding the role (reader, writer, admin; the highest of several counts).</summary>
    public string RoleClaim { get; set; } = "marketintel_role";

    /// <summary>The claim that names the caller in the audit log.</summary>
    public string NameClaim { get; set; } = "sub";

    /// <summary>Whether JWTs are accepted.</summary>
    public bool IsOn => !string.IsNullOrEmpty(Authority) || !string.IsNullOrEmpty(SigningKeyFile);
}

/// <summary>Checks a JWT and says who sent it with which role; validated tokens are remembered until they expire.</summary>
public sealed class JwtValidator
{
    private const int MaxRemembered = 10_000;
    private readonly JwtOptions _options;
    private readonly TokenValidationParameters _parameters;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly ConcurrentDictionary<string, (Caller Caller, DateTime Expires)> _remembered = new(StringComparer.Ordinal);

    public JwtValidator(JwtOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = options.Issuer ?? options.Authority,
            ValidAudience = options.Audience,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = TimeSpan.FromSeconds(30),
            NameClaimType = options.NameClaim,
            RoleClaimType = options.RoleClaim,
        };
        if (!string.IsNullOrEmpty(options.SigningKeyFile))
        {
            _parameters.IssuerSigningKey = LoadKey(options.SigningKeyFile);
        }
        else
        {
            string authority = options.Authority!.TrimEnd('/');
            _parameters.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
                authority + "/.well-known/openid-configuration", new OpenIdConnectConfigurationRetriever(),
                new HttpDocumentRetriever { RequireHttps = authority.StartsWith("https://", StringComparison.OrdinalIgnoreCase) });
        }
    }

    /// <summary>Whether <paramref name="token"/> looks like a JWT (three base64url parts) rather than an API key.</summary>
    public static bool LooksLikeJwt(ReadOnlySpan<char> token) => token.Count('.') == 2;

    /// <summary>The caller a valid token names, or null for a token that is not valid here.</summary>
    public async Task<Caller?> Validate(string token)
    {
        if (_remembered.TryGetValue(token, out var seen) && seen.Expires > DateTime.UtcNow)
        {
            return seen.Caller;
        }
        TokenValidationResult result = await _handler.ValidateTokenAsync(token, _parameters);
        if (!result.IsValid)
        {
            return null;
        }
        ApiRole? role = null;
        foreach (var claim in result.ClaimsIdentity.FindAll(_options.RoleClaim))
        {
            ApiRole? one = claim.Value.ToLowerInvariant() switch
            {
                "reader" => ApiRole.Reader,
                "writer" => ApiRole.Writer,
                "admin" => ApiRole.Admin,
                _ => null,
            };
            if (one is { } r && (role is null || r > role))
            {
                role = r;
            }
        }
        string name = "jwt:" + (result.ClaimsIdentity.FindFirst(_options.NameClaim)?.Value ?? "?");
        var caller = new Caller(name, role);
        if (_remembered.Count >= MaxRemembered)
        {
            _remembered.Clear();
        }
        _remembered[token] = (caller, result.SecurityToken.ValidTo);
        return caller;
    }

    /// <summary>A PEM public key (RSA or EC) as a signing key.</summary>
    public static SecurityKey LoadKey(string file)
    {
        string pem = File.ReadAllText(file);
        try
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (ArgumentException)
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
    }
}

/// <summary>Who made a request: an API key's name or a token's subject, and the role it holds (null: none).</summary>
public sealed record Caller(string Name, ApiRole? Role);
