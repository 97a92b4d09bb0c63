using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using Npgsql;
using NpgsqlTypes;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>
/// Retraining jobs in the <c>retrain_jobs</c> table: a row per job holding its whole record as JSON
/// (<see cref="RetrainJobJson"/>), replaced by each write, with the model name, state and times beside it for lookups.
/// </summary>
public sealed class PostgresRetrainJobStore(NpgsqlDataSource database) : IRetrainJobStore
{
    public async Task Save(RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        job.Check();
        await using var command = database.CreateCommand(
            "INSERT INTO retrain_jobs (id, name, state, created_at, updated_at, record) VALUES ($1, $2, $3, $4, $5, $6) " +
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, state = excluded.state, created_at = excluded.created_at, " +
            "updated_at = excluded.updated_at, record = excluded.record");
        command.Parameters.AddWithValue(job.Id);
        command.Parameters.AddWithValue(job.Request.Name);
        command.Parameters.AddWithValue(job.State.ToString());
        command.Parameters.AddWithValue(job.CreatedAt);
        command.Parameters.AddWithValue(job.UpdatedAt);
        command.Parameters.AddWithValue(NpgsqlDbType.Jsonb, RetrainJobJson.Write(job));
        await command.ExecuteNonQueryAsync();
    }

    public async Task<RetrainJob?> Get(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var command = database.CreateCommand("SELECT record FROM retrain_jobs WHERE id = $1");
        command.Parameters.AddWithValue(id);
        return await command.ExecuteScalarAsync() is string record ? RetrainJobJson.Read(record) : null;
    }

    public async Task<IReadOnlyList<RetrainJob>> List(string name, int limit)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        // Ties in creation time are broken by id in byte order, as the in-memory store breaks them.
        await using var command = database.CreateCommand(
            "SELECT record FROM retrain_jobs WHERE name = $1 ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $2");
        command.Parameters.AddWithValue(name);
        command.Parameters.AddWithValue(limit);
        var jobs = new List<RetrainJob>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            jobs.Add(RetrainJobJson.Read(reader.GetString(0)));
        }
        return jobs;
    }
}
