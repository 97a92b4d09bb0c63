namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// Where the predictions an asset grain makes on its bars are kept for offline analysis and audits: for each bar, the
/// served version's value and each shadow's. In cluster mode PostgreSQL's <c>prediction_log</c> table (written by
/// group commit, like the bar archive, and kept for <c>Postgres:PredictionLogRetention</c>); on embedded defaults
/// nothing is kept (<see cref="IsEnabled"/> false, and the grain then builds no batch).
/// <para>
/// Appending never blocks and never fails the bars' call: the bars are archived already when their predictions are
/// made, and an audit trail that cannot keep up must not stop ingestion. A batch the log cannot take (its queue is
/// full, or PostgreSQL fails the write) is dropped and counted.
/// </para>
/// </summary>
public interface IPredictionLog
{
    /// <summary>Whether predictions are kept (false: the asset grain builds no batch).</summary>
    bool IsEnabled { get; }

    /// <summary>Queues one call's predictions for writing; false when they were dropped because the log is full.</summary>
    bool Append(PredictionBatch batch);
}

/// <summary>
/// The predictions one <c>AddBars</c> call made: for each of <see cref="Count"/> bars, one value per version of
/// <see cref="Versions"/> (the served version first, then the shadows), row by row in <see cref="Values"/>; NaN where a
/// version made no prediction on that bar (its inputs were not ready yet). Direction and return models have one
/// output; a model with more contributes its first, as the scorer does.
/// </summary>
/// <param name="Asset">The asset.</param>
/// <param name="Name">The model name the versions belong to.</param>
/// <param name="Versions">The served version, then each shadow's.</param>
/// <param name="Timestamps">Each bar's time (Unix ms); the first <see cref="Count"/> are used.</param>
/// <param name="Values">Count × Versions.Count values, one row per bar.</param>
/// <param name="Count">How many bars carry predictions.</param>
public sealed record PredictionBatch(string Asset, string Name, IReadOnlyList<string> Versions, long[] Timestamps, float[] Values, int Count);
