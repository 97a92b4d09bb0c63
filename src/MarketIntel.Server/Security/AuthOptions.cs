using System.Net;

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

    /// <summary>Every problem with these settings for a silo listening on <paramref name="listenAddress"/>, each naming its setting.</summary>
    public IEnumerable<string> Problems(string listenAddress, bool clusterMode)
    {
        if (RefreshInterval < TimeSpan.FromMilliseconds(100) || RefreshInterval > TimeSpan.FromHours(1))
        {
            yield return $"{Section}:RefreshInterval {RefreshInterval} must be between 00:00:00.1 and 01:00:00";
        }
        if (!string.IsNullOrEmpty(KeysFile))
        {
            string? problem = null;
            try
            {
                _ = FileApiKeyStore.Parse(File.ReadAllBytes(KeysFile), KeysFile);
            }
            catch (Exception e) when (e is MarketIntel.Abstractions.ApiKeyException or IOException or UnauthorizedAccessException)
            {
                problem = e is FileNotFoundException or DirectoryNotFoundException
                    ? $"{Section}:KeysFile '{KeysFile}' does not exist; create a key with 'marketintel keys create --file {KeysFile} --name NAME --role admin'"
                    : $"{Section}:KeysFile: {e.Message}";
            }
            if (problem is not null)
            {
                yield return problem;
            }
        }
        else if (Enabled && !clusterMode && !Jwt.IsOn)
        {
            yield return $"{Section}:Enabled: embedded mode keeps keys in a file: start with --api-keys FILE (create one with 'marketintel keys create --file FILE --name NAME --role admin')";
        }
        foreach (string problem in Jwt.Problems())
        {
            yield return problem;
        }
        if (!IsOn && IPAddress.TryParse(listenAddress, out IPAddress? address) && !IPAddress.IsLoopback(address))
        {
            yield return clusterMode
                ? $"MarketIntel:ListenAddress {listenAddress} is beyond loopback: turn API keys on with --auth (keys in PostgreSQL: 'marketintel keys create --postgres CONN --name NAME --role admin') or --api-keys FILE"
                : $"MarketIntel:ListenAddress {listenAddress} is beyond loopback: turn API keys on with --api-keys FILE (create one with 'marketintel keys create --file FILE --name NAME --role admin')";
        }
    }
}
