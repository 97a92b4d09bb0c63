using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.CommandLine;
using MarketIntel.Server.Security;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Migrations;
using MarketIntel.Storage.Postgres.Storage;
using Npgsql;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel keys create|list|revoke</c>: API keys in a key file (embedded mode, <c>serve --api-keys FILE</c>)
/// or in the cluster's PostgreSQL (<c>serve --cluster --auth</c>). A new key is printed once; only its SHA-256 is
/// stored. Running servers pick up changes within <c>Auth:RefreshInterval</c> (2 s by default).
/// </summary>
internal static class KeysCommand
{
    public const string Usage = "marketintel keys create --file FILE|--postgres CONN --name NAME --role reader|writer|admin\n" +
        "       marketintel keys list --file FILE|--postgres CONN\n" +
        "       marketintel keys revoke --file FILE|--postgres CONN --name NAME|ID";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is not ("create" or "list" or "revoke"))
        {
            throw new UsageException("expected 'create', 'list' or 'revoke' after 'keys' (try 'marketintel keys --help')");
        }
        string verb = args[0];
        var options = CliArguments.Parse(args[1..], verb switch
        {
            "create" => ["file", "postgres", "name", "role"],
            "revoke" => ["file", "postgres", "name"],
            _ => ["file", "postgres"],
        });
        string? file = options.Optional("file");
        string? connection = options.Optional("postgres");
        if ((file is null) == (connection is null))
        {
            throw new UsageException("give either --file FILE (embedded mode) or --postgres CONN (cluster mode)");
        }
        NpgsqlDataSource? database = null;
        IApiKeyStore store;
        string where;
        if (file is not null)
        {
            store = new FileApiKeyStore(file);
            where = Path.GetFullPath(file);
        }
        else
        {
            if (new PostgresOptionsValidator().Validate(null, new PostgresOptions { ConnectionString = connection! }).Failures?.FirstOrDefault() is { } problem)
            {
                throw new UsageException($"--postgres: {problem}");
            }
            database = NpgsqlDataSource.Create(connection!);
            store = new PostgresApiKeyStore(database);
            where = PostgresOptions.Redact(connection!);
        }
        try
        {
            return PostgresErrors.Run(where, () =>
            {
                if (database is not null)
                {
                    Migrator.EnsureCurrentAsync(database).GetAwaiter().GetResult();
                }
                return verb switch
                {
                    "create" => Create(store, options, where, stdout, stderr),
                    "revoke" => Revoke(store, options, where, stdout),
                    _ => List(store, file is not null && !File.Exists(file), stdout),
                };
            });
        }
        catch (ApiKeyException e)
        {
            throw new UsageException(e.Message);
        }
        finally
        {
            database?.Dispose();
        }
    }

    private static int Create(IApiKeyStore store, CliArguments options, string where, TextWriter stdout, TextWriter stderr)
    {
        string name = options.Required("name");
        ApiRole role = ApiKeys.ParseRole(options.Required("role"));
        var (key, record) = ApiKeys.Create(name, role, DateTimeOffset.UtcNow);
        store.Add(record).GetAwaiter().GetResult();
        stdout.WriteLine(key);
        stderr.WriteLine($"marketintel keys: created {role.Name()} key '{name}' (id {record.Id}) in {where}; the key above is shown only now");
        return 0;
    }

    private static int Revoke(IApiKeyStore store, CliArguments options, string where, TextWriter stdout)
    {
        string name = options.Required("name");
        ApiKeyRecord? revoked = store.Revoke(name, DateTimeOffset.UtcNow).GetAwaiter().GetResult()
            ?? throw new UsageException($"{where}: no active key is named '{name}' or has that id");
        stdout.WriteLine($"revoked {revoked.Role.Name()} key '{revoked.Name}' (id {revoked.Id})");
        return 0;
    }

    private static int List(IApiKeyStore store, bool noFile, TextWriter stdout)
    {
        var keys = noFile ? [] : store.List().GetAwaiter().GetResult();
        stdout.WriteLine("id            name                            role    created               revoked");
        foreach (ApiKeyRecord key in keys)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{key.Id,-13} {key.Name,-31} {key.Role.Name(),-7} {key.CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}   {(key.RevokedAt is { } r ? r.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "-")}"));
        }
        return 0;
    }
}
