using MarketIntel.CommandLine;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Migrations;
using Npgsql;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel db migrate --postgres CONN</c>: brings the database's schema to this build's version (silos
/// never migrate; they refuse to start on another version). <c>db status</c> tells the version without changing it,
/// and says by its exit code whether a silo of this build would start on it, so deploy scripts can gate on it.
/// </summary>
internal static class DbCommand
{
    /// <summary><c>db status</c>: the schema is older than this build's (a fresh database included); run migrate.</summary>
    public const int SchemaBehind = 3;

    /// <summary><c>db status</c>: the schema is newer than this build's; use a newer marketintel.</summary>
    public const int SchemaAhead = 4;

    public const string Usage = "marketintel db migrate|status --postgres CONN\n" +
        "       (status exits 0 when the schema matches this build, 3 when it is behind, 4 when it is newer)\n" +
        "       " + DbPredictionsCommand.Usage;

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        if (args.Length > 0 && args[0] == "predictions")
        {
            return DbPredictionsCommand.Run(args[1..], stdout);
        }
        if (args.Length == 0 || args[0] is not ("migrate" or "status"))
        {
            throw new UsageException($"expected 'migrate', 'status' or 'predictions' after 'db' (usage: {Usage})");
        }
        string verb = args[0];
        var options = CliArguments.Parse(args[1..], ["postgres"]);
        string connection = options.Required("postgres");
        var postgres = new PostgresOptions { ConnectionString = connection };
        if (new PostgresOptionsValidator().Validate(null, postgres).Failures?.FirstOrDefault() is { } problem)
        {
            throw new UsageException($"--postgres: {problem}");
        }
        string where = PostgresOptions.Redact(connection);
        return PostgresErrors.Run(where, () =>
        {
            using var database = NpgsqlDataSource.Create(connection);
            int before = Migrator.CurrentVersionAsync(database).GetAwaiter().GetResult();
            if (verb == "status")
            {
                stdout.WriteLine($"{where}: schema version {before}, this build's is {Migrator.LatestVersion}" +
                    (before < Migrator.LatestVersion ? " (run 'marketintel db migrate')" : before > Migrator.LatestVersion ? " (the database is newer than this build)" : " (up to date)"));
                return before < Migrator.LatestVersion ? SchemaBehind : before > Migrator.LatestVersion ? SchemaAhead : 0;
            }
            if (before > Migrator.LatestVersion)
            {
                throw new UsageException($"{where}: schema version {before} is newer than this build's {Migrator.LatestVersion}; use a newer marketintel");
            }
            var applied = Migrator.MigrateAsync(database).GetAwaiter().GetResult();
            foreach (Migration m in applied)
            {
                stdout.WriteLine($"applied {m.Version:0000}_{m.Name}");
            }
            stdout.WriteLine(applied.Count == 0
                ? $"{where}: schema already at version {Migrator.LatestVersion}, nothing to do"
                : $"{where}: schema now at version {Migrator.LatestVersion}");
            return 0;
        });
    }
}
