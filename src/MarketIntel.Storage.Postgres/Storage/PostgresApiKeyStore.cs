using MarketIntel.Abstractions;
using Npgsql;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>API keys in the <c>api_keys</c> table (cluster mode): hashes only, one active key per name.</summary>
public sealed class PostgresApiKeyStore(NpgsqlDataSource database) : IApiKeyStore
{
    private const string UniqueViolation = "23505";

    public async Task<IReadOnlyList<ApiKeyRecord>> List(CancellationToken cancellationToken = default)
    {
        var keys = new List<ApiKeyRecord>();
        await using var command = database.CreateCommand("SELECT id, name, role, sha256, created_at, revoked_at FROM api_keys ORDER BY created_at, id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new ApiKeyRecord(reader.GetString(0), reader.GetString(1), ApiKeys.ParseRole(reader.GetString(2)), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5)));
        }
        return keys;
    }

    public async Task Add(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var command = database.CreateCommand("INSERT INTO api_keys (id, name, role, sha256, created_at) VALUES ($1, $2, $3, $4, $5)");
        command.Parameters.AddWithValue(key.Id);
        command.Parameters.AddWithValue(key.Name);
        command.Parameters.AddWithValue(key.Role.Name());
        command.Parameters.AddWithValue(key.Sha256);
        command.Parameters.AddWithValue(key.CreatedAt.ToUniversalTime());
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == UniqueViolation)
        {
            throw new ApiKeyException($"an active key is already named '{key.Name}' (revoke it first, or choose another name)", e);
        }
    }

    public async Task<ApiKeyRecord?> Revoke(string nameOrId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var command = database.CreateCommand(
            "UPDATE api_keys SET revoked_at = $2 WHERE revoked_at IS NULL AND (name = $1 OR id = $1) " +
            "RETURNING id, name, role, sha256, created_at, revoked_at");
        command.Parameters.AddWithValue(nameOrId);
        command.Parameters.AddWithValue(at.ToUniversalTime());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ApiKeyRecord(reader.GetString(0), reader.GetString(1), ApiKeys.ParseRole(reader.GetString(2)), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5))
            : null;
    }
}
