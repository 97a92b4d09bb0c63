namespace MarketIntel.Abstractions.Models;

/// <summary>
/// Outcome tallies of versions and pairs: one asset's (what its grain holds and stores), or the sums over many
/// assets (a model name's totals across the cluster). Tallies are sums, so totals are plain additions.
/// </summary>
/// <param name="Versions">One tally per version scored.</param>
/// <param name="Pairs">One tally per (champion, challenger) pair scored on the same outcomes.</param>
[GenerateSerializer]
public sealed record ModelScores(
    [property: Id(0)] IReadOnlyList<OutcomeTally> Versions,
    [property: Id(1)] IReadOnlyList<PairTally> Pairs)
{
    /// <summary>No tallies.</summary>
    public static ModelScores Empty { get; } = new([], []);

    /// <summary>The sums of <paramref name="parts"/>, version by version and pair by pair; the parts are left as they are.</summary>
    public static ModelScores Sum(IEnumerable<ModelScores> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var versions = new Dictionary<ModelRef, OutcomeTally>();
        var pairs = new Dictionary<(ModelRef, ModelRef), PairTally>();
        foreach (ModelScores part in parts)
        {
            foreach (OutcomeTally tally in part.Versions)
            {
                if (versions.TryGetValue(tally.Model, out OutcomeTally? sum))
                {
                    sum.Add(tally);
                }
                else
                {
                    versions.Add(tally.Model, Copy(tally));
                }
            }
            foreach (PairTally tally in part.Pairs)
            {
                if (pairs.TryGetValue((tally.Champion, tally.Challenger), out PairTally? sum))
                {
                    sum.Add(tally);
                }
                else
                {
                    pairs.Add((tally.Champion, tally.Challenger), Copy(tally));
                }
            }
        }
        return new ModelScores([.. versions.Values], [.. pairs.Values]);
    }

    /// <summary>A copy that later additions to <paramref name="tally"/> do not reach.</summary>
    public static OutcomeTally Copy(OutcomeTally tally)
    {
        ArgumentNullException.ThrowIfNull(tally);
        var copy = new OutcomeTally { Model = tally.Model, Kind = tally.Kind, Horizon = tally.Horizon };
        copy.Add(tally);
        return copy;
    }

    /// <summary>A copy that later additions to <paramref name="tally"/> do not reach (its lag arrays included).</summary>
    public static PairTally Copy(PairTally tally)
    {
        ArgumentNullException.ThrowIfNull(tally);
        PairTally copy = PairTally.Empty(tally.Champion, tally.Challenger, tally.Kind, tally.Horizon);
        copy.Add(tally);
        return copy;
    }

    /// <summary>A copy of every tally (see <see cref="Copy(OutcomeTally)"/>).</summary>
    public ModelScores Copy() => new([.. Versions.Select(Copy)], [.. Pairs.Select(Copy)]);
}
