using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>What the retraining watch keeps through grain storage, so a worker's death loses no count.</summary>
[GenerateSerializer]
public sealed class RetrainWatchState
{
    /// <summary>The start of the latest interval checked (Unix ms).</summary>
    [Id(0)]
    public long Interval { get; set; }

    /// <summary>Each model name's ledger, by name.</summary>
    [Id(1)]
    public Dictionary<string, ModelLedger> Models { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>A version's cluster-wide outcome tally at one moment: what the score decay and the bar count subtract.</summary>
[GenerateSerializer, Immutable]
public sealed record ScoreMark([property: Id(0)] long Outcomes, [property: Id(1)] long Hits, [property: Id(2)] double SquaredErrorSum)
{
    /// <summary>Nothing scored.</summary>
    public static ScoreMark None { get; } = new(0, 0, 0);

    /// <summary>The mark of <paramref name="tally"/> as it stands.</summary>
    public static ScoreMark Of(OutcomeTally tally)
    {
        ArgumentNullException.ThrowIfNull(tally);
        return new ScoreMark(tally.Outcomes, tally.Hits, tally.SquaredErrorSum);
    }
}

/// <summary>
/// One model name's ledger in the retraining watch, updated once a check from the cluster's score totals.
/// <para>
/// Bars: every accepted bar of an asset scores one outcome of the version that serves it (once its first <c>k</c> bars
/// have passed), so the new bars a name's assets took are the growth of its served versions' outcome counts. Shadows
/// score the same bars and are left out. Across a change of the served versions within an interval the larger of the
/// two sides counts: a shadow promoted in the interval scored every one of its bars on one side or the other.
/// </para>
/// <para>
/// Live scores since a version began serving: the tally minus its mark at the last check before the watch saw it serve
/// (a shadow's outcomes before that are its trial, not its service). A version already serving when the watch first
/// saw the name is counted from then.
/// </para>
/// </summary>
[GenerateSerializer]
public sealed class ModelLedger
{
    /// <summary>The newest job of the name when last checked (null: none).</summary>
    [Id(0)]
    public string? LastJob { get; set; }

    /// <summary>New bars counted since <see cref="CountingSince"/>.</summary>
    [Id(1)]
    public long Bars { get; set; }

    /// <summary>When the count began: the check that first saw <see cref="LastJob"/> (or the name).</summary>
    [Id(2)]
    public long CountingSince { get; set; }

    /// <summary>Each version's mark at the last check, by version.</summary>
    [Id(3)]
    public Dictionary<string, ScoreMark> Marks { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The versions serving at the last check.</summary>
    [Id(4)]
    public List<string> Served { get; set; } = [];

    /// <summary>Each serving version's mark when it began serving, by version.</summary>
    [Id(5)]
    public Dictionary<string, ScoreMark> ServingFrom { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A ledger that starts counting now: nothing before this check is known to it.</summary>
    public static ModelLedger Begin(IReadOnlyList<OutcomeTally> tallies, IReadOnlyList<string> served, RetrainJob? latest, long now)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        ArgumentNullException.ThrowIfNull(served);
        Dictionary<string, ScoreMark> marks = MarksOf(tallies);
        return new ModelLedger
        {
            LastJob = latest?.Id,
            CountingSince = now,
            Marks = marks,
            Served = [.. served],
            ServingFrom = served.ToDictionary(v => v, v => marks.GetValueOrDefault(v, ScoreMark.None), StringComparer.Ordinal),
        };
    }

    /// <summary>
    /// Takes this check's <paramref name="tallies"/>, <paramref name="served"/> versions and the name's newest job: counts
    /// the bars since the last check (from zero again when a new job appeared) and sets where each newly serving
    /// version's live score starts.
    /// </summary>
    public void Observe(IReadOnlyList<OutcomeTally> tallies, IReadOnlyList<string> served, RetrainJob? latest, long now)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        ArgumentNullException.ThrowIfNull(served);
        Dictionary<string, ScoreMark> marks = MarksOf(tallies);
        long Growth(IEnumerable<string> versions) =>
            versions.Sum(v => Math.Max(0, marks.GetValueOrDefault(v, ScoreMark.None).Outcomes - Marks.GetValueOrDefault(v, ScoreMark.None).Outcomes));
        long bars = Math.Max(Growth(Served), Growth(served));
        if (latest?.Id != LastJob)
        {
            LastJob = latest?.Id;
            Bars = 0;
            CountingSince = now;
        }
        else
        {
            Bars += bars;
        }
        var servingFrom = new Dictionary<string, ScoreMark>(StringComparer.Ordinal);
        foreach (string version in served)
        {
            servingFrom[version] = Served.Contains(version) && ServingFrom.TryGetValue(version, out ScoreMark? from)
                ? from
                : Marks.GetValueOrDefault(version, ScoreMark.None);
        }
        ServingFrom = servingFrom;
        Served = [.. served];
        Marks = marks;
    }

    /// <summary>
    /// Each serving version whose live score since it began serving is past its threshold (<paramref name="options"/>),
    /// on at least MinOutcomes outcomes, in words with the figures; empty when none is.
    /// </summary>
    public IReadOnlyList<string> Decayed(IReadOnlyList<OutcomeTally> tallies, ScoreDecayOptions options)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        ArgumentNullException.ThrowIfNull(options);
        var decayed = new List<string>();
        foreach (string version in Served)
        {
            if (tallies.FirstOrDefault(t => t.Model.Version == version) is not { } tally)
            {
                continue;
            }
            ScoreMark from = ServingFrom.GetValueOrDefault(version, ScoreMark.None);
            long outcomes = tally.Outcomes - from.Outcomes;
            if (outcomes < options.MinOutcomes)
            {
                continue;
            }
            if (tally.Kind == LabelKind.Direction && options.Below is { } below)
            {
                double accuracy = (double)(tally.Hits - from.Hits) / outcomes;
                if (accuracy < below)
                {
                    decayed.Add(Text($"version {version} accuracy {accuracy:0.0000} below {below} on {outcomes} outcomes since it began serving"));
                }
            }
            else if (tally.Kind == LabelKind.LogReturn && options.ErrorAbove is { } above)
            {
                double error = (tally.SquaredErrorSum - from.SquaredErrorSum) / outcomes;
                if (error > above)
                {
                    decayed.Add(Text($"version {version} mean squared error {error:G4} above {above} on {outcomes} outcomes since it began serving"));
                }
            }
        }
        return decayed;
    }

    /// <summary>What the bar count says in a request's reason: how many since what.</summary>
    public string BarsText(long threshold) =>
        LastJob is null
            ? Text($"bar volume: {Bars} new bars since {Time(CountingSince)}, when the watch began counting (at least {threshold} asked for a job)")
            : Text($"bar volume: {Bars} new bars since job {LastJob} (counted from {Time(CountingSince)}; at least {threshold} asked for a job)");

    /// <summary>
    /// The versions of <paramref name="deployment"/>'s name that serve assets: those its aliases name (both arms of a
    /// split) and the grid's default where it names a version of the name directly.
    /// </summary>
    public static IReadOnlyList<string> ServedVersions(ModelDeployment deployment, ModelRef? gridDefault)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        var served = new SortedSet<string>(StringComparer.Ordinal);
        foreach (AliasTarget target in deployment.Aliases.Values)
        {
            served.Add(target.Version);
            if (target.Split is { } split)
            {
                served.Add(split.Version);
            }
        }
        if (gridDefault is { IsAlias: false } direct && direct.Name == deployment.Name)
        {
            served.Add(direct.Version);
        }
        return [.. served];
    }

    private static Dictionary<string, ScoreMark> MarksOf(IReadOnlyList<OutcomeTally> tallies) =>
        tallies.ToDictionary(t => t.Model.Version, ScoreMark.Of, StringComparer.Ordinal);

    private static string Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
