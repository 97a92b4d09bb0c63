using System.Net;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Security;

/// <summary>
/// Who may call the grid (configuration section <c>Auth</c>). Off by default on a loopback listener, so the demo
/// and the tour need no key; a silo listening beyond loopback refuses to start without it.
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Require an API key on every call but <c>/healthz</c>. Implied by <see cref="KeysFile"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// The key file (<c>marketintel keys create --file</c>); when unset in cluster mode, keys are read from the
    /// cluster's PostgreSQL (<c>marketintel keys create --postgres</c>).
    /// </summary>
    public string? KeysFile { get; set; }

    /// <summary>How often the keys are read again: a key created or revoked takes effect on every silo within this.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>JWT bearer tokens from an OIDC issuer, accepted beside API keys (section <c>Auth:Jwt</c>).</summary>
    public JwtOptions Jwt { get; set; } = new();

    /// <summary>Whether calls need a key or a token.</summary>
    public bool IsOn => Enabled || !string.IsNullOrEmpty(KeysFile) || Jwt.IsOn;
}

/// <summary>
/// Checks <see cref="AuthOptions"/> at start (with <c>Auth:Jwt</c>) for a silo listening on
/// <paramref name="listenAddress"/>, in cluster mode or not, naming every setting at fault.
/// </summary>
public sealed class AuthOptionsValidator(string listenAddress, bool clusterMode) : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = AuthOptions.Section;
        var failures = new List<string>();
        if (options.RefreshInterval < TimeSpan.FromMilliseconds(100) || options.RefreshInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"{section}:RefreshInterval {options.RefreshInterval} must be between 00:00:00.1 and 01:00:00");
        }
        if (!string.IsNullOrEmpty(options.KeysFile))
        {
            try
            {
                _ = FileApiKeyStore.Parse(File.ReadAllBytes(options.KeysFile), options.KeysFile);
            }
            catch (Exception e) when (e is MarketIntel.Abstractions.ApiKeyException or IOException or UnauthorizedAccessException)
            {
                failures.Add(e is FileNotFoundException or DirectoryNotFoundException
                    ? $"{section}:KeysFile '{options.KeysFile}' does not exist; create a key with 'marketintel keys create --file {options.KeysFile} --name NAME --role admin'"
                    : $"{section}:KeysFile: {e.Message}");
            }
        }
        else if (options.Enabled && !clusterMode && !options.Jwt.IsOn)
        {
            failures.Add($"{section}:Enabled: embedded mode keeps keys in a file: start with --api-keys FILE (create one with 'marketintel keys create --file FILE --name NAME --role admin')");
        }
        if (options.Jwt.IsOn)
        {
            CheckJwt(options.Jwt, failures);
        }
        if (!options.IsOn && IPAddress.TryParse(listenAddress, out IPAddress? address) && !IPAddress.IsLoopback(address))
        {
            failures.Add(clusterMode
                ? $"MarketIntel:ListenAddress {listenAddress} is beyond loopback: turn API keys on with --auth (keys in PostgreSQL: 'marketintel keys create --postgres CONN --name NAME --role admin') or --api-keys FILE"
                : $"MarketIntel:ListenAddress {listenAddress} is beyond loopback: turn API keys on with --api-keys FILE (create one with 'marketintel keys create --file FILE --name NAME --role admin')");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckJwt(JwtOptions jwt, List<string> failures)
    {
        const string section = JwtOptions.Section;
        if (string.IsNullOrEmpty(jwt.Audience))
        {
            failures.Add($"{section}:Audience must be set: a token for another service must not open this one");
        }
        if (!string.IsNullOrEmpty(jwt.SigningKeyFile) && string.IsNullOrEmpty(jwt.Issuer))
        {
            failures.Add($"{section}:Issuer must be set with {section}:SigningKeyFile");
        }
        if (!string.IsNullOrEmpty(jwt.Authority) && !Uri.TryCreate(jwt.Authority, UriKind.Absolute, out _))
        {
            failures.Add($"{section}:Authority '{jwt.Authority}' is not a URL");
        }
        if (!string.IsNullOrEmpty(jwt.SigningKeyFile))
        {
            try
            {
                _ = JwtValidator.LoadKey(jwt.SigningKeyFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                failures.Add($"{section}:SigningKeyFile '{jwt.SigningKeyFile}' is not a PEM public key ({(e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e.GetType().Name)})");
            }
        }
    }
}
