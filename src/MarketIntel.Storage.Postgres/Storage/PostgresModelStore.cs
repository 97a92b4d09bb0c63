using System.Security.Cryptography;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using Npgsql;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>
/// The model registry in the <c>models</c> and <c>model_default</c> tables, where other tools (a retraining job,
/// a report) can read versions, bytes and descriptions with plain SQL.
/// </summary>
public sealed class PostgresModelStore(NpgsqlDataSource database) : IModelStore
{
    public async Task<ModelCatalog> Load()
    {
        var versions = new List<StoredModel>();
        ModelRef? defaultModel = null;
        await using (var command = database.CreateCommand("SELECT name, version, kind, feature_names, feature_count, output_names, bytes FROM models"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var model = new ModelRef(reader.GetString(0), reader.GetString(1));
                string[]? features = reader.IsDBNull(3) ? null : (string[])reader[3];
                versions.Add(new StoredModel(new ModelInfo(model, reader.GetString(2), features, reader.GetInt32(4), (string[])reader[5]), (byte[])reader[6]));
            }
        }
        await using (var command = database.CreateCommand("SELECT name, version FROM model_default WHERE id = 1"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            if (await reader.ReadAsync())
            {
                defaultModel = new ModelRef(reader.GetString(0), reader.GetString(1));
            }
        }
        return new ModelCatalog(versions, defaultModel);
    }

    public async Task<bool> Add(StoredModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        (ModelInfo info, byte[] bytes) = model;
        await using var command = database.CreateCommand(
            "INSERT INTO models (name, version, kind, feature_names, feature_count, output_names, sha256, bytes) " +
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name, version) DO NOTHING");
        command.Parameters.AddWithValue(info.Model.Name);
        command.Parameters.AddWithValue(info.Model.Version);
        command.Parameters.AddWithValue(info.Kind);
        command.Parameters.AddWithValue(NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, (object?)info.FeatureNames?.ToArray() ?? DBNull.Value);
        command.Parameters.AddWithValue(info.FeatureCount);
        command.Parameters.AddWithValue(info.OutputNames.ToArray());
        command.Parameters.AddWithValue(Convert.ToHexStringLower(SHA256.HashData(bytes)));
        command.Parameters.AddWithValue(bytes);
        if (await command.ExecuteNonQueryAsync() == 1)
        {
            return true;
        }
        // Stored already: the same version again is fine only with the same bytes.
        await using var existing = database.CreateCommand("SELECT bytes FROM models WHERE name = $1 AND version = $2");
        existing.Parameters.AddWithValue(info.Model.Name);
        existing.Parameters.AddWithValue(info.Model.Version);
        return await existing.ExecuteScalarAsync() is byte[] stored && stored.AsSpan().SequenceEqual(bytes);
    }

    public async Task SetDefault(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        await using var command = database.CreateCommand(
            "INSERT INTO model_default (id, name, version) VALUES (1, $1, $2) " +
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, changed_at = now()");
        command.Parameters.AddWithValue(model.Name);
        command.Parameters.AddWithValue(model.Version);
        await command.ExecuteNonQueryAsync();
    }
}
