using System.Globalization;
using System.Text.Json;
using MarketIntel.Abstractions;

namespace MarketIntel.Server.Security;

/// <summary>
/// API keys in a JSON file (embedded mode): <c>{"keys": [{"id", "name", "role", "sha256", "createdAt", "revokedAt"}]}</c>,
/// hashes only. Changes are written to a temporary file and renamed over the old one, so a server reading the file
/// never sees half of it; on Unix the file is readable by its owner only.
/// </summary>
public sealed class FileApiKeyStore(string path) : IApiKeyStore
{
    private static readonly SemaphoreSlim Writer = new(1, 1);

    /// <summary>The file this store reads and writes.</summary>
    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public async Task<IReadOnlyList<ApiKeyRecord>> List(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Path))
        {
            throw new ApiKeyException($"{Path}: no such key file (create a key with 'marketintel keys create --file {Path} --name NAME --role admin')");
        }
        byte[] bytes = await File.ReadAllBytesAsync(Path, cancellationToken);
        return Parse(bytes, Path);
    }

    public async Task Add(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await Change(keys =>
        {
            if (keys.Any(k => k.IsActive && k.Name == key.Name))
            {
                throw new ApiKeyException($"{Path}: an active key is already named '{key.Name}' (revoke it first, or choose another name)");
            }
            keys.Add(key);
            return true;
        }, cancellationToken);
    }

    public async Task<ApiKeyRecord?> Revoke(string nameOrId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ApiKeyRecord? revoked = null;
        await Change(keys =>
        {
            int i = keys.FindIndex(k => k.IsActive && (k.Name == nameOrId || k.Id == nameOrId));
            if (i < 0)
            {
                return false;
            }
            revoked = keys[i] with { RevokedAt = at };
            keys[i] = revoked;
            return true;
        }, cancellationToken);
        return revoked;
    }

    // Read, change and write back under one lock (within this process; the CLI is the only other writer).
    private async Task Change(Func<List<ApiKeyRecord>, bool> change, CancellationToken cancellationToken)
    {
        await Writer.WaitAsync(cancellationToken);
        try
        {
            var keys = File.Exists(Path) ? Parse(await File.ReadAllBytesAsync(Path, cancellationToken), Path).ToList() : [];
            if (!change(keys))
            {
                return;
            }
            string? directory = System.IO.Path.GetDirectoryName(Path);
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }
            string temporary = $"{Path}.{Environment.ProcessId}.tmp";
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            await using (var file = new FileStream(temporary, options))
            {
                await file.WriteAsync(Serialize(keys), cancellationToken);
                await file.FlushAsync(cancellationToken);
            }
            File.Move(temporary, Path, overwrite: true);
        }
        finally
        {
            Writer.Release();
        }
    }

    /// <summary>The keys in a key file's bytes; <paramref name="source"/> names the file in errors.</summary>
    public static IReadOnlyList<ApiKeyRecord> Parse(byte[] bytes, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new ApiKeyException($"{source}: not a key file ({e.Message})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("keys", out JsonElement keys) || keys.ValueKind != JsonValueKind.Array)
            {
                throw new ApiKeyException($"{source}: not a key file (expected {{\"keys\": [...]}})");
            }
            var list = new List<ApiKeyRecord>();
            int i = 0;
            foreach (JsonElement key in keys.EnumerateArray())
            {
                try
                {
                    string name = Text(key, "name");
                    ApiKeys.CheckName(name);
                    string? revoked = key.TryGetProperty("revokedAt", out JsonElement r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                    list.Add(new ApiKeyRecord(Text(key, "id"), name, ApiKeys.ParseRole(Text(key, "role")), Text(key, "sha256"),
                        Time(Text(key, "createdAt")), revoked is null ? null : Time(revoked)));
                }
                catch (Exception e) when (e is ApiKeyException or FormatException or InvalidOperationException)
                {
                    throw new ApiKeyException($"{source}: keys[{i}]: {e.Message}");
                }
                i++;
            }
            return list;
        }
    }

    private static string Text(JsonElement key, string property) =>
        key.ValueKind == JsonValueKind.Object && key.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new ApiKeyException($"'{property}' is missing or not a string");

    private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static string Utc(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static byte[] Serialize(IEnumerable<ApiKeyRecord> keys)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartArray("keys");
            foreach (ApiKeyRecord key in keys)
            {
                json.WriteStartObject();
                json.WriteString("id", key.Id);
                json.WriteString("name", key.Name);
                json.WriteString("role", key.Role.Name());
                json.WriteString("sha256", key.Sha256);
                json.WriteString("createdAt", Utc(key.CreatedAt));
                if (key.RevokedAt is { } revoked)
                {
                    json.WriteString("revokedAt", Utc(revoked));
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
