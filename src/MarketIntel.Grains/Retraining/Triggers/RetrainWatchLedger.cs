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
/// have passed), so the new bars a name's assets took are the growth of its serving versions' outcome counts. Shadows
/// score the same bars and are left out. Across a change of the serving versions within an interval the larger of the
/// two sides counts: a shadow promoted in the interval scored every one of its bars on one side or the other.
/// </para>
/// <para>
/// Live scores since a version began serving: the tally minus its mark at the last check before the watch saw it serve
/// (a shadow's outcomes before that are its trial, not its service). A version already serving when the watch first
/// saw the name is counted from then. Versions serving through any alias are followed; score decay judges the one a
/// job would replace (<see cref="RetrainJobGrain.Served"/>).
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

    /// <summary>When the count began: the start of the interval whose check first saw <see cref="LastJob"/> (or the name), Unix ms.</summary>
    [Id(2)]
    public long CountingSince { get; set; }

    /// <summary>Each version's mark at the last check, by version.</summary>
    [Id(3)]
    public Dictionary<string, ScoreMark> Marks { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The versions serving assets at the last check (<see cref="ServingVersions"/>).</summary>
    [Id(4)]
    public List<string> Serving { get; set; } = [];

    /// <summary>Each serving version's mark when it began serving, by version.</summary>
    [Id(5)]
    public Dictionary<string, ScoreMark> ServingFrom { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A ledger that starts counting at the check of <paramref name="interval"/> (its start, Unix ms): nothing before it is known to it.</summary>
    public static ModelLedger Begin(IReadOnlyList<OutcomeTally> tallies, IReadOnlyList<string> serving, RetrainJob? latest, long interval)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        ArgumentNullException.ThrowIfNull(serving);
        Dictionary<string, ScoreMark> marks = MarksOf(tallies);
        return new ModelLedger
        {
            LastJob = latest?.Id,
            CountingSince = interval,
            Marks = marks,
            Serving = [.. serving],
            ServingFrom = serving.ToDictionary(v => v, v => marks.GetValueOrDefault(v, ScoreMark.None), StringComparer.Ordinal),
        };
    }

    /// <summary>
    /// Takes the check of <paramref name="interval"/>: its <paramref name="tallies"/>, <paramref name="serving"/>
    /// versions and the name's newest job. Counts the bars since the last check (from zero again when a new job
    /// appeared) and sets where each newly serving version's live score starts.
    /// </summary>
    public void Observe(IReadOnlyList<OutcomeTally> tallies, IReadOnlyList<string> serving, RetrainJob? latest, long interval)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        ArgumentNullException.ThrowIfNull(serving);
        Dictionary<string, ScoreMark> marks = MarksOf(tallies);
        long Growth(IEnumerable<string> versions) =>
            versions.Sum(v => Math.Max(0, marks.GetValueOrDefault(v, ScoreMark.None).Outcomes - Marks.GetValueOrDefault(v, ScoreMark.None).Outcomes));
        long bars = Math.Max(Growth(Serving), Growth(serving));
        if (latest?.Id != LastJob)
        {
            LastJob = latest?.Id;
            Bars = 0;
            CountingSince = interval;
        }
        else
        {
            Bars += bars;
        }
        var servingFrom = new Dictionary<string, ScoreMark>(StringComparer.Ordinal);
        foreach (string version in serving)
        {
            servingFrom[version] = Serving.Contains(version) && ServingFrom.TryGetValue(version, out ScoreMark? from)
                ? from
                : Marks.GetValueOrDefault(version, ScoreMark.None);
        }
        ServingFrom = servingFrom;
        Serving = [.. serving];
        Marks = marks;
    }

    /// <summary>
    /// Whether <paramref name="version"/> (the one a job would replace: see <see cref="RetrainJobGrain.Served"/>), serving since
    /// the watch saw it begin, has a live score past its threshold (<paramref name="options"/>) on at least MinOutcomes
    /// outcomes since then: the figures in words, or null.
    /// </summary>
    public string? Decayed(string? version, IReadOnlyList<OutcomeTally> tallies, ScoreDecayOptions options)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        ArgumentNullException.ThrowIfNull(options);
        if (version is null || !ServingFrom.TryGetValue(version, out ScoreMark? from) || tallies.FirstOrDefault(t => t.Model.Version == version) is not { } tally)
        {
            return null;
        }
        long outcomes = tally.Outcomes - from.Outcomes;
        if (outcomes < options.MinOutcomes)
        {
            return null;
        }
        if (tally.Kind == LabelKind.Direction && options.Below is { } below)
        {
            double accuracy = (double)(tally.Hits - from.Hits) / outcomes;
            return accuracy < below ? Text($"version {version} accuracy {accuracy:0.0000} below {below} on {outcomes} outcomes since it began serving") : null;
        }
        if (tally.Kind == LabelKind.LogReturn && options.ErrorAbove is { } above)
        {
            double error = (tally.SquaredErrorSum - from.SquaredErrorSum) / outcomes;
            return error > above ? Text($"version {version} mean squared error {error:G4} above {above} on {outcomes} outcomes since it began serving") : null;
        }
        return null;
    }

    /// <summary>What the bar count says in a request's reason: how many since what.</summary>
    public string BarsText(long threshold) =>
        LastJob is null
            ? Text($"bar volume: {Bars} new bars since {Time(CountingSince)}, when the watch began counting (at least {threshold} asked for a job)")
            : Text($"bar volume: {Bars} new bars since job {LastJob} (counted from {Time(CountingSince)}; at least {threshold} asked for a job)");

    /// <summary>
    /// The versions of <paramref name="model"/> that serve assets, whose outcomes count its bars: those its aliases
    /// name (both arms of a split) and the grid's default where it names a version of the model directly.
    /// </summary>
    public static IReadOnlyList<string> ServingVersions(ModelDetails model, ModelRef? gridDefault)
    {
        ArgumentNullException.ThrowIfNull(model);
        var serving = new SortedSet<string>(StringComparer.Ordinal);
        foreach (AliasTarget target in model.Deployment.Aliases.Values)
        {
            serving.Add(target.Version);
            if (target.Split is { } split)
            {
                serving.Add(split.Version);
            }
        }
        if (gridDefault is { IsAlias: false } direct && direct.Name == model.Name)
        {
            serving.Add(direct.Version);
        }
        return [.. serving];
    }

    private static Dictionary<string, ScoreMark> MarksOf(IReadOnlyList<OutcomeTally> tallies) =>
        tallies.ToDictionary(t => t.Model.Version, ScoreMark.Of, StringComparer.Ordinal);

    private static string Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
