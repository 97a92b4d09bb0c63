using System.Reflection;
using Npgsql;

namespace MarketIntel.Storage.Postgres.Migrations;

/// <summary>One schema version: its number, name and SQL.</summary>
public sealed record Migration(int Version, string Name, string Sql);

/// <summary>
/// The schema's versioned migrations, applied in order by <c>marketintel db migrate</c>, each in its own
/// transaction and recorded in <c>schema_migrations</c>. Silos never migrate: they check the version at start
/// and refuse to run against a schema older or newer than theirs.
/// </summary>
public static class Migrator
{
    // Serialises concurrent migrators (two operators, two deploy jobs).
    private const long LockKey = 0x4d49_5343_4845_4d41; // "MISCHEMA"

    /// <summary>Every migration this build knows, by version (files named NNNN_name.sql).</summary>
    public static IReadOnlyList<Migration> All { get; } = LoadAll();

    /// <summary>The schema version this build runs on.</summary>
    public static int LatestVersion => All[^1].Version;

    private static List<Migration> LoadAll()
    {
        var assembly = typeof(Migrator).Assembly;
        const string prefix = "MarketIntel.Migrations.";
        var list = new List<Migration>();
        foreach (string resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            string file = resource[prefix.Length..^".sql".Length];
            int underscore = file.IndexOf('_', StringComparison.Ordinal);
            int version = int.Parse(file[..underscore], System.Globalization.CultureInfo.InvariantCulture);
            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add(new Migration(version, file[(underscore + 1)..], reader.ReadToEnd()));
        }
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i].Version != i + 1)
            {
                throw new InvalidOperationException($"migration versions must run 1, 2, 3, ... without gaps; found {list[i].Version} at position {i + 1}");
            }
        }
        return list;
    }

    /// <summary>Applies every migration the database lacks; returns those applied (none when it is up to date).</summary>
    public static async Task<IReadOnlyList<Migration>> MigrateAsync(NpgsqlDataSource database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        // Held for the whole run: a second migrator waits, then finds nothing to do. Released explicitly, since a
        // pooled connection outlives this call.
        await using (var lockCommand = new NpgsqlCommand($"SELECT pg_advisory_lock({LockKey})", connection))
        {
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            return await ApplyMissing(connection, cancellationToken);
        }
        finally
        {
            await using var unlock = new NpgsqlCommand($"SELECT pg_advisory_unlock({LockKey})", connection);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static async Task<IReadOnlyList<Migration>> ApplyMissing(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using (var create = new NpgsqlCommand(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            connection))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        var applied = new List<Migration>();
        foreach (Migration migration in All)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var check = new NpgsqlCommand("SELECT count(*) FROM schema_migrations WHERE version = $1", connection, transaction))
            {
                check.Parameters.AddWithValue(migration.Version);
                if ((long)(await check.ExecuteScalarAsync(cancellationToken))! > 0)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    continue;
                }
            }
            try
            {
                await using (var apply = new NpgsqlCommand(migration.Sql, connection, transaction))
                {
                    await apply.ExecuteNonQueryAsync(cancellationToken);
                }
            }
            catch (PostgresException e)
            {
                throw new SchemaException($"migration {migration.Version:0000}_{migration.Name} failed: {e.MessageText}", e);
            }
            await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", connection, transaction))
            {
                record.Parameters.AddWithValue(migration.Version);
                record.Parameters.AddWithValue(migration.Name);
                await record.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            applied.Add(migration);
        }
        return applied;
    }

    /// <summary>The database's schema version: 0 when it was never migrated.</summary>
    public static async Task<int> CurrentVersionAsync(NpgsqlDataSource database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        await using (var exists = database.CreateCommand("SELECT to_regclass('schema_migrations') IS NOT NULL"))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
            {
                return 0;
            }
        }
        await using var command = database.CreateCommand("SELECT coalesce(max(version), 0) FROM schema_migrations");
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Throws <see cref="SchemaException"/> unless the database is at exactly this build's version.</summary>
    public static async Task EnsureCurrentAsync(NpgsqlDataSource database, CancellationToken cancellationToken = default)
    {
        int version = await CurrentVersionAsync(database, cancellationToken);
        if (version < LatestVersion)
        {
            throw new SchemaException($"the database schema is at version {version}, this build needs {LatestVersion}: run 'marketintel db migrate --postgres CONN' first");
        }
        if (version > LatestVersion)
        {
            throw new SchemaException($"the database schema is at version {version}, newer than this build's {LatestVersion}: upgrade the silo");
        }
    }
}

/// <summary>A database whose schema this build cannot run on, or a migration that failed.</summary>
public sealed class SchemaException : Exception
{
    public SchemaException()
    {
    }

    public SchemaException(string message)
        : base(message)
    {
    }

    public SchemaException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
