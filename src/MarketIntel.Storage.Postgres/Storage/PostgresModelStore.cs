using System.Security.Cryptography;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using Npgsql;
using NpgsqlTypes;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>
/// The model registry in the <c>models</c>, <c>model_default</c>, <c>model_deployments</c> (with
/// <c>model_aliases</c> and <c>model_shadows</c>) and <c>model_audit</c> tables, where other tools (a retraining job,
/// a report) can read versions, bytes, lineage, profiles, deployments and the audit log with plain SQL. Each change and its
/// audit record are one transaction.
/// </summary>
public sealed class PostgresModelStore(NpgsqlDataSource database) : IModelStore
{
    public async Task<ModelCatalog> Load()
    {
        var versions = new List<StoredModel>();
        ModelRef? defaultModel = null;
        await using var connection = await database.OpenConnectionAsync();
        // One snapshot for all four reads: a deployment never names a version this read has not seen.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await using (var command = new NpgsqlCommand(
            "SELECT name, version, kind, feature_names, feature_count, output_names, bytes, label, registered_at, tags::text, lineage, profile FROM models ORDER BY registered_at, name, version",
            connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var model = new ModelRef(reader.GetString(0), reader.GetString(1));
                string[]? features = reader.IsDBNull(3) ? null : (string[])reader[3];
                string? label = reader.IsDBNull(7) ? null : reader.GetString(7);
                var info = new ModelInfo(model, reader.GetString(2), features, reader.GetInt32(4), (string[])reader[5], label);
                versions.Add(new StoredModel(info, (byte[])reader[6], UnixMs(reader.GetDateTime(8)),
                    JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(9)) ?? [], reader.IsDBNull(10) ? null : reader.GetString(10))
                {
                    Profile = reader.IsDBNull(11) ? null : reader.GetString(11),
                });
            }
        }
        await using (var command = new NpgsqlCommand("SELECT name, version FROM model_default WHERE id = 1", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            if (await reader.ReadAsync())
            {
                defaultModel = new ModelRef(reader.GetString(0), reader.GetString(1));
            }
        }
        var deployments = new Dictionary<string, ModelDeployment>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("SELECT name, epoch FROM model_deployments", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                deployments[reader.GetString(0)] = ModelDeployment.Empty(reader.GetString(0)) with { Epoch = reader.GetInt64(1) };
            }
        }
        var aliases = deployments.Keys.ToDictionary(n => n, _ => new Dictionary<string, AliasTarget>(StringComparer.Ordinal), StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("SELECT name, alias, version, split_version, split_weight, auto_promote FROM model_aliases", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ArmSplit? split = reader.IsDBNull(3) ? null : new ArmSplit(reader.GetString(3), reader.GetDouble(4));
                aliases[reader.GetString(0)][reader.GetString(1)] = new AliasTarget(reader.GetString(2), split, reader.GetBoolean(5));
            }
        }
        var shadows = deployments.Keys.ToDictionary(n => n, _ => new List<string>(), StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("SELECT name, version FROM model_shadows ORDER BY name, position", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                shadows[reader.GetString(0)].Add(reader.GetString(1));
            }
        }
        return new ModelCatalog(versions, defaultModel,
            [.. deployments.Values.Select(d => d with { Aliases = aliases[d.Name], Shadows = shadows[d.Name] })]);
    }

    private static long UnixMs(DateTime at) => new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)).ToUnixTimeMilliseconds();

    private static DateTime Timestamp(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime;

    public async Task<bool> Add(StoredModel model, ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(model);
        ModelInfo info = model.Info;
        await using var connection = await database.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand(
            "INSERT INTO models (name, version, kind, feature_names, feature_count, output_names, sha256, bytes, registered_at, label, lineage, tags) " +
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb) ON CONFLICT (name, version) DO NOTHING", connection, transaction);
        command.Parameters.AddWithValue(info.Model.Name);
        command.Parameters.AddWithValue(info.Model.Version);
        command.Parameters.AddWithValue(info.Kind);
        command.Parameters.AddWithValue(NpgsqlDbType.Array | NpgsqlDbType.Text, (object?)info.FeatureNames?.ToArray() ?? DBNull.Value);
        command.Parameters.AddWithValue(info.FeatureCount);
        command.Parameters.AddWithValue(info.OutputNames.ToArray());
        command.Parameters.AddWithValue(Convert.ToHexStringLower(SHA256.HashData(model.Bytes)));
        command.Parameters.AddWithValue(model.Bytes);
        command.Parameters.AddWithValue(NpgsqlDbType.TimestampTz, Timestamp(model.CreatedAt));
        command.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)info.Label ?? DBNull.Value);
        command.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)model.Lineage ?? DBNull.Value);
        command.Parameters.AddWithValue(JsonSerializer.Serialize(model.Tags));
        if (await command.ExecuteNonQueryAsync() == 1)
        {
            await Append(connection, transaction, audit);
            await transaction.CommitAsync();
            return true;
        }
        // Stored already: the same version again is fine only with the same bytes.
        await using var existing = new NpgsqlCommand("SELECT bytes FROM models WHERE name = $1 AND version = $2", connection, transaction);
        existing.Parameters.AddWithValue(info.Model.Name);
        existing.Parameters.AddWithValue(info.Model.Version);
        return await existing.ExecuteScalarAsync() is byte[] stored && stored.AsSpan().SequenceEqual(model.Bytes);
    }

    public Task<bool> SetLineage(ModelRef model, string lineage, string label, ModelAuditRecord audit) =>
        SetOnce(model, "lineage", lineage, ("label", label), audit);

    public Task<bool> SetProfile(ModelRef model, string profile, ModelAuditRecord audit) =>
        SetOnce(model, "profile", profile, null, audit);

    // Writes a column a version sets once (lineage, profile), with another column that goes with it, and the audit
    // record, in one transaction; when it is set already, true only if it holds the same value (then nothing is
    // written). The column names are this class's constants, never a caller's text.
    private async Task<bool> SetOnce(ModelRef model, string column, string value, (string Column, string Value)? also, ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(model);
        await using var connection = await database.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        string set = also is { } other ? $"{column} = $3, {other.Column} = $4" : $"{column} = $3";
        await using var command = new NpgsqlCommand($"UPDATE models SET {set} WHERE name = $1 AND version = $2 AND {column} IS NULL", connection, transaction);
        command.Parameters.AddWithValue(model.Name);
        command.Parameters.AddWithValue(model.Version);
        command.Parameters.AddWithValue(value);
        if (also is { } extra)
        {
            command.Parameters.AddWithValue(extra.Value);
        }
        if (await command.ExecuteNonQueryAsync() == 1)
        {
            await Append(connection, transaction, audit);
            await transaction.CommitAsync();
            return true;
        }
        await using var existing = new NpgsqlCommand($"SELECT {column} FROM models WHERE name = $1 AND version = $2", connection, transaction);
        existing.Parameters.AddWithValue(model.Name);
        existing.Parameters.AddWithValue(model.Version);
        return await existing.ExecuteScalarAsync() switch
        {
            string stored => stored == value,
            DBNull or null => throw NotStored(model),
            _ => false,
        };
    }

    public async Task SetTags(ModelRef model, IReadOnlyDictionary<string, string> tags, ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(model);
        await using var connection = await database.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("UPDATE models SET tags = $3::jsonb WHERE name = $1 AND version = $2", connection, transaction);
        command.Parameters.AddWithValue(model.Name);
        command.Parameters.AddWithValue(model.Version);
        command.Parameters.AddWithValue(JsonSerializer.Serialize(tags));
        if (await command.ExecuteNonQueryAsync() != 1)
        {
            throw NotStored(model);
        }
        await Append(connection, transaction, audit);
        await transaction.CommitAsync();
    }

    public async Task SaveDeployment(ModelDeployment deployment, ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        await using var connection = await database.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch)
        {
            batch.BatchCommands.Add(Command("INSERT INTO model_deployments (name, epoch) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch",
                deployment.Name, deployment.Epoch));
            batch.BatchCommands.Add(Command("DELETE FROM model_aliases WHERE name = $1", deployment.Name));
            batch.BatchCommands.Add(Command("DELETE FROM model_shadows WHERE name = $1", deployment.Name));
            foreach (var (alias, target) in deployment.Aliases)
            {
                batch.BatchCommands.Add(Command(
                    "INSERT INTO model_aliases (name, alias, version, split_version, split_weight, auto_promote) VALUES ($1, $2, $3, $4, $5, $6)",
                    deployment.Name, alias, target.Version, (object?)target.Split?.Version ?? DBNull.Value, (object?)target.Split?.Weight ?? DBNull.Value, target.AutoPromote));
            }
            for (int i = 0; i < deployment.Shadows.Count; i++)
            {
                batch.BatchCommands.Add(Command("INSERT INTO model_shadows (name, version, position) VALUES ($1, $2, $3)", deployment.Name, deployment.Shadows[i], i));
            }
            await batch.ExecuteNonQueryAsync();
        }
        await Append(connection, transaction, audit);
        await transaction.CommitAsync();
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (object value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
        return command;
    }

    public async Task AppendAudit(ModelAuditRecord audit)
    {
        await using var connection = await database.OpenConnectionAsync();
        await Append(connection, null, audit);
    }

    private static async Task Append(NpgsqlConnection connection, NpgsqlTransaction? transaction, ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(audit);
        await using var command = new NpgsqlCommand("INSERT INTO model_audit (name, action, version, at, client, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)", connection, transaction);
        command.Parameters.AddWithValue(audit.Name);
        command.Parameters.AddWithValue(audit.Action);
        command.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)audit.Version ?? DBNull.Value);
        command.Parameters.AddWithValue(NpgsqlDbType.TimestampTz, Timestamp(audit.At));
        command.Parameters.AddWithValue(audit.Client);
        command.Parameters.AddWithValue(audit.Detail);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<ModelAuditRecord>> ReadAudit(string name, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        await using var command = database.CreateCommand(
            "SELECT id, name, action, version, at, client, detail::text FROM (SELECT * FROM model_audit WHERE name = $1 ORDER BY id DESC LIMIT $2) AS last ORDER BY id");
        command.Parameters.AddWithValue(name);
        command.Parameters.AddWithValue(limit);
        var records = new List<ModelAuditRecord>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            records.Add(new ModelAuditRecord(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                UnixMs(reader.GetDateTime(4)), reader.GetString(5), reader.GetString(6)));
        }
        return records;
    }

    public async Task SetDefault(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        // An alias is no row of models; a version must be one (checked in the same statement, so a version
        // cannot be named between the check and the write).
        await using var command = database.CreateCommand(
            "INSERT INTO model_default (id, name, version) SELECT 1, $1, $2 WHERE $3 OR EXISTS (SELECT 1 FROM models WHERE name = $1 AND version = $2) " +
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, changed_at = now()");
        command.Parameters.AddWithValue(model.Name);
        command.Parameters.AddWithValue(model.Version);
        command.Parameters.AddWithValue(model.IsAlias);
        if (await command.ExecuteNonQueryAsync() != 1)
        {
            throw NotStored(model);
        }
    }

    private static InvalidOperationException NotStored(ModelRef model) => new($"model {model} is not stored");
}
