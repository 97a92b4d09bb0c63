using System.Security.Cryptography;
using System.Text;

namespace MarketIntel.Abstractions;

/// <summary>
/// What an API key may do. Each role includes the ones below it: a writer may also read, an admin may do anything.
/// </summary>
public enum ApiRole
{
    /// <summary>Predictions, features and prediction streams.</summary>
    Reader = 1,

    /// <summary>Ingest bars and push feature vectors, besides reading.</summary>
    Writer = 2,

    /// <summary>The model registry, assignments, the dashboard and /metrics' operators, besides writing.</summary>
    Admin = 3,
}

/// <summary>
/// One stored API key: never the key itself, only its SHA-256. <see cref="Id"/> is the public part of the key that
/// finds the record; <see cref="Name"/> is what the audit log shows.
/// </summary>
public sealed record ApiKeyRecord(string Id, string Name, ApiRole Role, string Sha256, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    /// <summary>Whether the key still opens the grid.</summary>
    public bool IsActive => RevokedAt is null;
}

/// <summary>Where API keys are kept: a file in embedded mode, PostgreSQL in cluster mode.</summary>
public interface IApiKeyStore
{
    /// <summary>Every key, revoked ones included.</summary>
    Task<IReadOnlyList<ApiKeyRecord>> List(CancellationToken cancellationToken = default);

    /// <summary>Adds a key; fails with <see cref="ApiKeyException"/> when an active key already has its name.</summary>
    Task Add(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>Revokes the active key whose name or id is <paramref name="nameOrId"/>; returns it, or null when there is none.</summary>
    Task<ApiKeyRecord?> Revoke(string nameOrId, DateTimeOffset at, CancellationToken cancellationToken = default);
}

/// <summary>A key store refused a change (a duplicate name, a malformed file); the message says why.</summary>
public sealed class ApiKeyException : Exception
{
    public ApiKeyException()
    {
    }

    public ApiKeyException(string message)
        : base(message)
    {
    }

    public ApiKeyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The API key format: <c>mik_ID_SECRET</c>, with a 12-character id (stored, shown by <c>keys list</c>) and 256
/// random bits of secret in base64url. Keys are stored as their SHA-256: with 256 bits of entropy a slow password
/// hash adds nothing, and checking a key costs well under a microsecond per request.
/// </summary>
public static class ApiKeys
{
    private const string Prefix = "mik_";
    private const int IdLength = 12;
    private const int SecretBytes = 32;
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
    private static readonly System.Buffers.SearchValues<char> IdChars = System.Buffers.SearchValues.Create(IdAlphabet);

    /// <summary>The longest key name accepted.</summary>
    public const int MaxNameLength = 64;

    /// <summary>A new random key and its record (the key itself is shown once and never stored).</summary>
    public static (string Key, ApiKeyRecord Record) Create(string name, ApiRole role, DateTimeOffset now)
    {
        CheckName(name);
        if (!Enum.IsDefined(role))
        {
            throw new ApiKeyException($"role {(int)role} is not reader, writer or admin");
        }
        string id = RandomNumberGenerator.GetString(IdAlphabet, IdLength);
        string secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        string key = $"{Prefix}{id}_{secret}";
        return (key, new ApiKeyRecord(id, name, role, Hash(key), now, null));
    }

    /// <summary>The id part of a well-formed key, or null when <paramref name="key"/> is not one.</summary>
    public static string? IdOf(ReadOnlySpan<char> key)
    {
        if (key.Length <= Prefix.Length + IdLength + 1 || !key.StartsWith(Prefix, StringComparison.Ordinal) || key[Prefix.Length + IdLength] != '_')
        {
            return null;
        }
        ReadOnlySpan<char> id = key.Slice(Prefix.Length, IdLength);
        return id.ContainsAnyExcept(IdChars) ? null : id.ToString();
    }

    /// <summary>The stored form of a key: its SHA-256 in lower-case hex.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Whether <paramref name="key"/> is the key <paramref name="record"/> was made from, compared in fixed time.</summary>
    public static bool Matches(ReadOnlySpan<char> key, ApiKeyRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        // Keys are short ASCII; anything longer than this buffer is not one of ours.
        Span<byte> utf8 = stackalloc byte[256];
        if (Encoding.UTF8.GetMaxByteCount(key.Length) > utf8.Length)
        {
            return false;
        }
        int n = Encoding.UTF8.GetBytes(key, utf8);
        Span<byte> actual = stackalloc byte[32];
        SHA256.HashData(utf8[..n], actual);
        Span<byte> expected = stackalloc byte[32];
        return Convert.FromHexString(record.Sha256, expected, out _, out int written) == System.Buffers.OperationStatus.Done
            && written == 32
            && CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>A role by its name (reader, writer, admin), any case.</summary>
    public static ApiRole ParseRole(string text) => text?.ToLowerInvariant() switch
    {
        "reader" => ApiRole.Reader,
        "writer" => ApiRole.Writer,
        "admin" => ApiRole.Admin,
        _ => throw new ApiKeyException($"role '{text}' must be reader, writer or admin"),
    };

    /// <summary>The role's name as configuration and the CLI write it.</summary>
    public static string Name(this ApiRole role) => role switch
    {
        ApiRole.Reader => "reader",
        ApiRole.Writer => "writer",
        ApiRole.Admin => "admin",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    /// <summary>Key names are 1-64 characters of letters, digits, '.', '_' and '-' (they appear in logs).</summary>
    public static void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new ApiKeyException($"key name '{Printable(name)}' must be 1-{MaxNameLength} characters of letters, digits, '.', '_' and '-'");
        }
    }

    private static string Printable(string? name) =>
        name is null ? "" : new string(name.Take(MaxNameLength).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
