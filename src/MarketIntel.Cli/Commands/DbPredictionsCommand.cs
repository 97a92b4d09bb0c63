using System.Globalization;
using MarketIntel.CommandLine;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Migrations;
using MarketIntel.Storage.Postgres.Storage;
using Npgsql;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel db predictions --postgres CONN --asset A [--from T] [--to T] [--csv]</c>: what the grid predicted for an
/// asset on each bar, by which version, from the prediction log (cluster mode). Without <c>--csv</c>, a line per bar
/// for a person; with it, a row per bar and version (<c>timestamp,model,version,role,value</c>) for analysis tools.
/// </summary>
internal static class DbPredictionsCommand
{
    public const string Usage = "marketintel db predictions --postgres CONN --asset SYMBOL [--from TIME] [--to TIME] [--csv]\n" +
        "       (TIME: Unix ms or a date, yyyy-MM-dd[ HH:mm[:ss]] or ISO 8601, UTC unless it has an offset; both ends included)";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["postgres", "asset", "from", "to"], ["csv"]);
        string connection = options.Required("postgres");
        if (new PostgresOptionsValidator().Validate(null, new PostgresOptions { ConnectionString = connection }).Failures?.FirstOrDefault() is { } problem)
        {
            throw new UsageException($"--postgres: {problem}");
        }
        string asset = options.Required("asset");
        long from = options.Optional("from") is { } f ? BarTimestamps.ParseOption(f, "--from") : long.MinValue;
        long to = options.Optional("to") is { } t ? BarTimestamps.ParseOption(t, "--to") : long.MaxValue;
        if (from > to)
        {
            throw new UsageException($"--from {options.Optional("from")} is after --to {options.Optional("to")}");
        }
        bool csv = options.Flag("csv");
        return PostgresErrors.Run(PostgresOptions.Redact(connection), () =>
        {
            using var database = NpgsqlDataSource.Create(connection);
            Migrator.EnsureCurrentAsync(database).GetAwaiter().GetResult();
            return Write(PostgresPredictionLog.Read(database, asset, from, to), csv, stdout).GetAwaiter().GetResult();
        });
    }

    private static async Task<int> Write(IAsyncEnumerable<LoggedPrediction> rows, bool csv, TextWriter stdout)
    {
        if (csv)
        {
            stdout.WriteLine("timestamp,model,version,role,value");
        }
        await foreach (LoggedPrediction row in rows)
        {
            string time = DateTimeOffset.FromUnixTimeMilliseconds(row.Timestamp).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            if (csv)
            {
                stdout.WriteLine($"{time},{Field(row.Name)},{Field(row.ServedVersion)},served,{Value(row.ServedValue)}");
                for (int i = 0; i < row.ShadowVersions.Count; i++)
                {
                    stdout.WriteLine($"{time},{Field(row.Name)},{Field(row.ShadowVersions[i])},shadow,{Value(row.ShadowValues[i])}");
                }
            }
            else
            {
                string shadows = string.Join(' ', row.ShadowVersions.Select((v, i) => $"{v}={Value(row.ShadowValues[i], "-")}"));
                stdout.WriteLine($"{time} {row.Name} {row.ServedVersion}={Value(row.ServedValue, "-")}{(shadows.Length > 0 ? "  shadows " + shadows : "")}");
            }
        }
        return 0;
    }

    // Shortest text that reads back to the same float; empty (or the given mark) where the version made no prediction.
    private static string Value(float? value, string none = "") => value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : none;

    // Model names and versions may hold commas or quotes: such a field is quoted, as RFC 4180 has it.
    private static string Field(string text) =>
        text.AsSpan().IndexOfAny(",\"\r\n") < 0 ? text : "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
