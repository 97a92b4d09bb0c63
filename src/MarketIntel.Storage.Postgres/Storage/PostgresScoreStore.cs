using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using Npgsql;

namespace MarketIntel.Storage.Postgres.Storage;

/// <summary>
/// Live outcome scores in the <c>score_outcomes</c> and <c>score_pairs</c> tables: a row per (asset, version) and per
/// (asset, pair), replaced by each write, so a report or the promotion gate can sum them with plain SQL too.
/// </summary>
public sealed class PostgresScoreStore(NpgsqlDataSource database) : IScoreStore
{
    private const string OutcomeColumns = "name, version, label_kind, horizon, outcomes, hits, log_loss_sum, brier_sum, squared_error_sum";

    private const string PairColumns =
        "name, champion, challenger, label_kind, horizon, pairs, both_hit, champion_only_hits, challenger_only_hits, " +
        "difference_sum, difference_square_sum, lag_products, lag_leading, lag_trailing, lag_counts";

    public async Task Save(string asset, ModelScores scores)
    {
        ArgumentNullException.ThrowIfNull(asset);
        ArgumentNullException.ThrowIfNull(scores);
        // One round trip, one transaction: the asset's tallies are stored together or not at all.
        await using var batch = database.CreateBatch();
        foreach (OutcomeTally t in scores.Versions)
        {
            var command = new NpgsqlBatchCommand(
                $"INSERT INTO score_outcomes (asset, {OutcomeColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) " +
                "ON CONFLICT (asset, name, version) DO UPDATE SET label_kind = excluded.label_kind, horizon = excluded.horizon, " +
                "outcomes = excluded.outcomes, hits = excluded.hits, log_loss_sum = excluded.log_loss_sum, brier_sum = excluded.brier_sum, " +
                "squared_error_sum = excluded.squared_error_sum, updated_at = now()");
            Add(command, asset, t.Model.Name, t.Model.Version, KindName(t.Kind), t.Horizon, t.Outcomes, t.Hits, t.LogLossSum, t.BrierSum, t.SquaredErrorSum);
            batch.BatchCommands.Add(command);
        }
        foreach (PairTally t in scores.Pairs)
        {
            var command = new NpgsqlBatchCommand(
                $"INSERT INTO score_pairs (asset, {PairColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) " +
                "ON CONFLICT (asset, name, champion, challenger) DO UPDATE SET label_kind = excluded.label_kind, horizon = excluded.horizon, " +
                "pairs = excluded.pairs, both_hit = excluded.both_hit, champion_only_hits = excluded.champion_only_hits, " +
                "challenger_only_hits = excluded.challenger_only_hits, difference_sum = excluded.difference_sum, " +
                "difference_square_sum = excluded.difference_square_sum, lag_products = excluded.lag_products, lag_leading = excluded.lag_leading, " +
                "lag_trailing = excluded.lag_trailing, lag_counts = excluded.lag_counts, updated_at = now()");
            Add(command, asset, t.Champion.Name, t.Champion.Version, t.Challenger.Version, KindName(t.Kind), t.Horizon, t.Pairs, t.BothHit,
                t.ChampionOnlyHits, t.ChallengerOnlyHits, t.DifferenceSum, t.DifferenceSquareSum, t.LagProducts, t.LagLeading, t.LagTrailing, t.LagCounts);
            batch.BatchCommands.Add(command);
        }
        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync();
        }
    }

    private static void Add(NpgsqlBatchCommand command, params object[] values)
    {
        foreach (object value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
    }

    public Task<ModelScores> Load(string asset)
    {
        ArgumentNullException.ThrowIfNull(asset);
        return Read("asset", asset);
    }

    public Task<ModelScores> Totals(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Read("name", name);
    }

    // The rows where column equals value, summed per version and pair (one asset's rows need no summing, and sum to themselves).
    private async Task<ModelScores> Read(string column, string value)
    {
        var parts = new List<ModelScores>();
        await using (var command = database.CreateCommand($"SELECT {OutcomeColumns} FROM score_outcomes WHERE {column} = $1"))
        {
            command.Parameters.AddWithValue(value);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                parts.Add(new ModelScores([new OutcomeTally
                {
                    Model = new ModelRef(reader.GetString(0), reader.GetString(1)), Kind = ParseKind(reader.GetString(2)), Horizon = reader.GetInt32(3),
                    Outcomes = reader.GetInt64(4), Hits = reader.GetInt64(5), LogLossSum = reader.GetDouble(6), BrierSum = reader.GetDouble(7),
                    SquaredErrorSum = reader.GetDouble(8),
                }], []));
            }
        }
        await using (var command = database.CreateCommand($"SELECT {PairColumns} FROM score_pairs WHERE {column} = $1"))
        {
            command.Parameters.AddWithValue(value);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                string name = reader.GetString(0);
                parts.Add(new ModelScores([], [new PairTally
                {
                    Champion = new ModelRef(name, reader.GetString(1)), Challenger = new ModelRef(name, reader.GetString(2)),
                    Kind = ParseKind(reader.GetString(3)), Horizon = reader.GetInt32(4), Pairs = reader.GetInt64(5), BothHit = reader.GetInt64(6),
                    ChampionOnlyHits = reader.GetInt64(7), ChallengerOnlyHits = reader.GetInt64(8), DifferenceSum = reader.GetDouble(9),
                    DifferenceSquareSum = reader.GetDouble(10), LagProducts = (double[])reader[11], LagLeading = (double[])reader[12],
                    LagTrailing = (double[])reader[13], LagCounts = (long[])reader[14],
                }]));
            }
        }
        return ModelScores.Sum(parts);
    }

    private static string KindName(LabelKind kind) => kind == LabelKind.Direction ? "direction" : "logreturn";

    private static LabelKind ParseKind(string name) => name == "direction" ? LabelKind.Direction : LabelKind.LogReturn;
}
