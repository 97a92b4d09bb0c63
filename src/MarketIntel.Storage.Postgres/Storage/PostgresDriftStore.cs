using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using Npgsql;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>
/// Drift windows in the <c>drift_windows</c> table: a row per asset, replaced by each write, with the series' counts
/// laid out flat (<c>bins</c> says how many belong to each series), so a report can read them with plain SQL too.
/// </summary>
public sealed class PostgresDriftStore(NpgsqlDataSource database) : IDriftStore
{
    private const string Columns = "asset, name, version, window_bars, count, series, bins, counts, missing";

    public async Task Save(DriftCounts counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        counts.Check();
        await using var command = database.CreateCommand(
            $"INSERT INTO drift_windows ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) " +
            "ON CONFLICT (asset) DO UPDATE SET name = excluded.name, version = excluded.version, window_bars = excluded.window_bars, " +
            "count = excluded.count, series = excluded.series, bins = excluded.bins, counts = excluded.counts, missing = excluded.missing, updated_at = now()");
        command.Parameters.AddWithValue(counts.Asset);
        command.Parameters.AddWithValue(counts.Model.Name);
        command.Parameters.AddWithValue(counts.Model.Version);
        command.Parameters.AddWithValue(counts.Window);
        command.Parameters.AddWithValue(counts.Count);
        command.Parameters.AddWithValue(counts.Series.Select(s => s.Name).ToArray());
        command.Parameters.AddWithValue(counts.Series.Select(s => s.Counts.Count).ToArray());
        command.Parameters.AddWithValue(counts.Series.SelectMany(s => s.Counts).ToArray());
        command.Parameters.AddWithValue(counts.Series.Select(s => s.Missing).ToArray());
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<DriftCounts>> Read(string? name)
    {
        await using var command = database.CreateCommand(
            $"SELECT {Columns} FROM drift_windows" + (name is null ? "" : " WHERE name = $1") + " ORDER BY asset");
        if (name is not null)
        {
            command.Parameters.AddWithValue(name);
        }
        var windows = new List<DriftCounts>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            string[] series = (string[])reader[5];
            int[] bins = (int[])reader[6];
            int[] counts = (int[])reader[7];
            int[] missing = (int[])reader[8];
            var read = new SeriesCounts[series.Length];
            int at = 0;
            for (int s = 0; s < series.Length; s++)
            {
                read[s] = new SeriesCounts(series[s], counts[at..(at + bins[s])], missing[s]);
                at += bins[s];
            }
            windows.Add(new DriftCounts(reader.GetString(0), new ModelRef(reader.GetString(1), reader.GetString(2)), reader.GetInt32(3), reader.GetInt32(4), read));
        }
        return windows;
    }
}
