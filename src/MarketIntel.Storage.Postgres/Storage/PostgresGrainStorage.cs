using Npgsql;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>
/// Orleans grain storage on PostgreSQL: one row per grain and state name in <c>grain_state</c>, the state in
/// Orleans' binary serialization (version tolerant through the state types' [Id] attributes), and an ETag that
/// is the row's version number. A write names the version it read; if another activation wrote since, no row
/// matches and the write fails with <see cref="InconsistentStateException"/>, which makes Orleans deactivate
/// the stale activation instead of letting it overwrite newer state.
/// </summary>
public sealed class PostgresGrainStorage(string serviceId, NpgsqlDataSource database, Serializer serializer) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        await using var command = database.CreateCommand(
            "SELECT etag, payload FROM grain_state WHERE service_id = $1 AND grain_id = $2 AND state_name = $3");
        AddKey(command, stateName, grainId);
        await using var reader = await command.ExecuteReaderAsync();
        if (await reader.ReadAsync())
        {
            long etag = reader.GetInt64(0);
            byte[] payload = (byte[])reader[1];
            grainState.State = serializer.Deserialize<T>(payload);
            grainState.ETag = etag.ToString(System.Globalization.CultureInfo.InvariantCulture);
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        byte[] payload = serializer.SerializeToArray(grainState.State);
        NpgsqlCommand command;
        if (grainState.ETag is null)
        {
            // First write: insert, and find out whether another activation inserted first.
            command = database.CreateCommand(
                "INSERT INTO grain_state (service_id, grain_id, state_name, etag, payload) VALUES ($1, $2, $3, 1, $4) " +
                "ON CONFLICT DO NOTHING RETURNING etag");
            AddKey(command, stateName, grainId);
            command.Parameters.AddWithValue(payload);
        }
        else
        {
            command = database.CreateCommand(
                "UPDATE grain_state SET etag = etag + 1, payload = $4, updated_at = now() " +
                "WHERE service_id = $1 AND grain_id = $2 AND state_name = $3 AND etag = $5 RETURNING etag");
            AddKey(command, stateName, grainId);
            command.Parameters.AddWithValue(payload);
            command.Parameters.AddWithValue(ParseETag(grainState.ETag));
        }
        await using (command)
        {
            object? etag = await command.ExecuteScalarAsync();
            if (etag is not long written)
            {
                throw Conflict("write", stateName, grainId, grainState.ETag);
            }
            grainState.ETag = written.ToString(System.Globalization.CultureInfo.InvariantCulture);
            grainState.RecordExists = true;
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        if (grainState.ETag is not null)
        {
            await using var command = database.CreateCommand(
                "DELETE FROM grain_state WHERE service_id = $1 AND grain_id = $2 AND state_name = $3 AND etag = $4");
            AddKey(command, stateName, grainId);
            command.Parameters.AddWithValue(ParseETag(grainState.ETag));
            if (await command.ExecuteNonQueryAsync() != 1)
            {
                throw Conflict("clear", stateName, grainId, grainState.ETag);
            }
        }
        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private void AddKey(NpgsqlCommand command, string stateName, GrainId grainId)
    {
        command.Parameters.AddWithValue(serviceId);
        command.Parameters.AddWithValue(grainId.ToString());
        command.Parameters.AddWithValue(stateName);
    }

    private static long ParseETag(string etag) =>
        long.TryParse(etag, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new InconsistentStateException($"ETag '{etag}' was not written by this storage");

    private static InconsistentStateException Conflict(string operation, string stateName, GrainId grainId, string? etag) =>
        new($"grain state {stateName} of {grainId}: {operation} with ETag {etag ?? "(none)"} lost to a newer write by another activation",
            storedEtag: "unknown", currentEtag: etag ?? "");
}
