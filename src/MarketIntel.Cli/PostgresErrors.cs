using MarketIntel.CommandLine;
using MarketIntel.Storage.Postgres.Migrations;
using Npgsql;

namespace MarketIntel.Cli;

/// <summary>The commands that work on the cluster's database (<c>db</c>, <c>keys --postgres</c>) report its failures alike.</summary>
internal static class PostgresErrors
{
    /// <summary>Runs <paramref name="work"/>, turning the database's failures into one usage line naming <paramref name="where"/> (the redacted connection).</summary>
    public static int Run(string where, Func<int> work)
    {
        try
        {
            return work();
        }
        catch (SchemaException e)
        {
            throw new UsageException($"{where}: {e.Message}");
        }
        catch (PostgresException e)
        {
            throw new UsageException($"{where}: PostgreSQL refused: {e.MessageText}");
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new UsageException($"cannot reach PostgreSQL at {where}: {e.Message}");
        }
    }
}
