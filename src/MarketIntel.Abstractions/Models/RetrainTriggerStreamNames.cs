namespace MarketIntel.Abstractions.Models;

/// <summary>
/// The Orleans stream that carries <see cref="RetrainRequest"/>s from <see cref="IRetrainTriggers"/> to each model
/// name's coordinator (docs/retraining.md): one stream per model name (the stream key) in <see cref="Namespace"/>, on
/// the stream provider named <see cref="Provider"/>. Memory streams on embedded defaults; in cluster mode the storage
/// provider registers a PostgreSQL-backed provider under this name, so a request sent is kept until it is delivered.
/// </summary>
public static class RetrainTriggerStreamNames
{
    /// <summary>The stream provider's name.</summary>
    public const string Provider = "retrain-triggers";

    /// <summary>The streams' namespace (each model name's consumer subscribes to it implicitly).</summary>
    public const string Namespace = "retrain-triggers";
}
