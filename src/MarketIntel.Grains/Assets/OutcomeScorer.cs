using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// Scores an asset's live predictions against what the market then did, as <see cref="OutcomeTally"/> and
/// <see cref="PairTally"/> define it: the prediction a version made after bar <c>t</c> is scored when bar <c>t + k</c>
/// arrives (<c>k</c> and the label kind from the version's lineage), and the served version is paired with each shadow
/// of the same label on the outcomes both predicted. Per bar it only writes into arrays sized when the versions change
/// (<see cref="Configure"/>): pending predictions wait in a ring of <c>k</c> slots per version, the closes they are scored
/// against in a ring of <c>max k + 1</c>. Tallies are kept per version and pair across changes of the versions, so that a
/// shadow that leaves and comes back continues its sums. What is still pending when the grain deactivates can be carried
/// into its next activation (<see cref="Pending"/>, <see cref="Resume"/>). Not thread-safe: the asset's grain is its one
/// caller.
/// </summary>
internal sealed class OutcomeScorer(GridMetrics metrics)
{
    /// <summary>Probabilities are clipped to [Clip, 1 - Clip] for the log loss, so that a confident miss costs a finite amount.</summary>
    public const double Clip = 1e-15;

    // Created with the first tally: most assets' versions have no label to score, and an idle dictionary is memory per grain.
    private Dictionary<ModelRef, OutcomeTally>? _tallies;
    private Dictionary<(ModelRef Champion, ModelRef Challenger), PairTally>? _pairTallies;
    private Track?[] _tracks = [];   // by lineup position (0: the served version); null where a version is not scored
    private PairTrack[] _pairs = [];
    private double[] _closes = [];   // ring: the close of bar b at b % length
    private long _bar = -1;          // the index of the latest bar seen (counted from this scorer's start, or the resumed one's)
    private long _lastTimestamp;     // that bar's time
    private PendingOutcomes? _carried;  // resumed, until the first Configure hands it to the versions it names

    /// <summary>Whether any version is scored (else a bar needs no predictions for scoring).</summary>
    public bool Active { get; private set; }

    /// <summary>Whether tallies changed since <see cref="TakeChanges"/> last ran.</summary>
    public bool Changed { get; private set; }

    /// <summary>
    /// Sets the versions scored from now on, by lineup position (position 0 is the served version; null: a version not
    /// scored). Pending predictions of versions that stay are kept; the served version is paired with each shadow whose
    /// label is the same.
    /// </summary>
    public void Configure(IReadOnlyList<ScoredVersion?> versions)
    {
        ArgumentNullException.ThrowIfNull(versions);
        PendingOutcomes? carried = _carried;
        _carried = null;
        if (_tracks.Length == 0 && versions.All(v => v is null))
        {
            return;  // nothing was scored and nothing will be: nothing to size
        }
        var tracks = new Track?[versions.Count];
        int longest = 0;
        for (int i = 0; i < versions.Count; i++)
        {
            if (versions[i] is not { } version)
            {
                continue;
            }
            tracks[i] = Array.Find(_tracks, t => t is not null && t.Version == version) ?? NewTrack(version, carried);
            longest = Math.Max(longest, version.Label.Horizon);
        }
        var pairs = new List<PairTrack>();
        if (tracks.Length > 0 && tracks[0] is { } champion)
        {
            for (int i = 1; i < tracks.Length; i++)
            {
                if (tracks[i] is { } challenger && challenger.Version.Label == champion.Version.Label)
                {
                    pairs.Add(Array.Find(_pairs, p => p.Champion == champion && p.Challenger == challenger)
                        ?? NewPair(champion, challenger, carried));
                }
            }
        }
        ResizeCloses(longest + 1);
        PublishCounts();  // a version that leaves takes no outcomes with it
        _tracks = tracks;
        _pairs = [.. pairs];
        Active = longest > 0;
    }

    private Track NewTrack(ScoredVersion version, PendingOutcomes? carried)
    {
        var track = new Track(version, TallyOf(version), metrics.ScoresOf(version.Model));
        PendingPredictions? pending = carried?.Versions.FirstOrDefault(p =>
            p.Model == version.Model && p.Kind == version.Label.Kind && p.Horizon == version.Label.Horizon && p.Predictions.Length == track.Pending.Length);
        pending?.Predictions.CopyTo(track.Pending, 0);
        return track;
    }

    private PairTrack NewPair(Track champion, Track challenger, PendingOutcomes? carried)
    {
        var pair = new PairTrack(champion, challenger, PairTallyOf(champion.Version, challenger.Version));
        if (carried?.Pairs.FirstOrDefault(p => p.Champion == champion.Version.Model && p.Challenger == challenger.Version.Model) is { } pending)
        {
            pair.Resume(pending);
        }
        return pair;
    }

    /// <summary>
    /// What waits to be scored, for the asset's next activation (<see cref="Resume"/>): each scored version's pending
    /// predictions, the closes they are scored against and each pair's recent loss differences, as of the latest bar;
    /// null when no version is scored.
    /// </summary>
    public PendingOutcomes? Pending()
    {
        if (!Active || _bar < 0)
        {
            return null;
        }
        PendingPredictions[] versions = [.. _tracks.OfType<Track>().Select(t =>
            new PendingPredictions(t.Version.Model, t.Version.Label.Kind, t.Version.Label.Horizon, (float[])t.Pending.Clone()))];
        return new PendingOutcomes(_lastTimestamp, _bar, (double[])_closes.Clone(), versions, [.. _pairs.Select(p => p.Pending())]);
    }

    /// <summary>
    /// Takes back what an earlier activation left pending, before this one has seen a bar or a version: the bar count
    /// and closes go on from it, and the versions and pairs the first <see cref="Configure"/> names (with the same
    /// label) get their pending predictions and recent differences back. The caller checks that the bars go on from
    /// <see cref="PendingOutcomes.LastTimestamp"/>.
    /// </summary>
    public void Resume(PendingOutcomes pending)
    {
        ArgumentNullException.ThrowIfNull(pending);
        if (_bar >= 0 || _tracks.Length > 0)
        {
            throw new InvalidOperationException("pending outcomes are resumed before the scorer sees its first bar or versions");
        }
        if (pending.Bar < 0)
        {
            return;  // no bar was ever seen: nothing is pending (and slots are indexed by a bar count that is never negative)
        }
        (_bar, _lastTimestamp, _closes, _carried) = (pending.Bar, pending.LastTimestamp, (double[])pending.Closes.Clone(), pending);
    }

    // Keeps the closes the ring holds; a longer ring has no close for bars before it grew (NaN: their predictions are not scored).
    private void ResizeCloses(int length)
    {
        if (length == _closes.Length)
        {
            return;
        }
        var closes = new double[length];
        Array.Fill(closes, double.NaN);
        for (long b = Math.Max(0, _bar - Math.Min(length, _closes.Length) + 1); b <= _bar; b++)
        {
            closes[b % length] = _closes[b % _closes.Length];
        }
        _closes = closes;
    }

    private OutcomeTally TallyOf(ScoredVersion version)
    {
        _tallies ??= [];
        if (!_tallies.TryGetValue(version.Model, out OutcomeTally? tally))
        {
            tally = new OutcomeTally { Model = version.Model, Kind = version.Label.Kind, Horizon = version.Label.Horizon };
            _tallies.Add(version.Model, tally);
        }
        return tally;
    }

    private PairTally PairTallyOf(ScoredVersion champion, ScoredVersion challenger)
    {
        _pairTallies ??= [];
        if (!_pairTallies.TryGetValue((champion.Model, challenger.Model), out PairTally? tally))
        {
            tally = PairTally.Empty(champion.Model, challenger.Model, champion.Label.Kind, champion.Label.Horizon);
            _pairTallies.Add((champion.Model, challenger.Model), tally);
        }
        return tally;
    }

    /// <summary>
    /// A bar arrived at <paramref name="timestamp"/> with close <paramref name="close"/>: every prediction made its
    /// version's horizon ago is scored. Call it once per bar, before <see cref="Record"/> gives the bar's own predictions.
    /// </summary>
    public void BarArrived(long timestamp, double close)
    {
        _bar++;
        _lastTimestamp = timestamp;
        _carried = null;  // a bar before any version: what was carried no longer lines up
        if (!Active)
        {
            return;
        }
        _closes[_bar % _closes.Length] = close;
        foreach (Track? track in _tracks)
        {
            track?.Score(_bar, _closes);
        }
        foreach (PairTrack pair in _pairs)
        {
            pair.Score();
        }
        foreach (Track? track in _tracks)
        {
            Changed |= track is { ScoredNow: true };
        }
    }

    /// <summary>The prediction the version at lineup position <paramref name="position"/> made after the latest bar.</summary>
    public void Record(int position, float value)
    {
        if (position < _tracks.Length && _tracks[position] is { } track)
        {
            track.Pending[_bar % track.Pending.Length] = value;
        }
    }

    /// <summary>
    /// Adds the outcomes scored since the last call to the silo's score counters (<see cref="GridMetrics.ScoresOf"/>):
    /// the grain calls it once per call of bars rather than once per outcome.
    /// </summary>
    public void PublishCounts()
    {
        foreach (Track? track in _tracks)
        {
            track?.PublishCounts();
        }
    }

    /// <summary>Whether the version at lineup position <paramref name="position"/> is scored.</summary>
    public bool Scores(int position) => position < _tracks.Length && _tracks[position] is not null;

    /// <summary>Adds tallies read back from the store (before any bar is scored in this activation).</summary>
    public void Load(ModelScores stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        foreach (OutcomeTally tally in stored.Versions)
        {
            _tallies ??= [];
            if (_tallies.TryGetValue(tally.Model, out OutcomeTally? held))
            {
                held.Add(tally);
            }
            else
            {
                _tallies.Add(tally.Model, ModelScores.Copy(tally));
            }
        }
        foreach (PairTally tally in stored.Pairs)
        {
            _pairTallies ??= [];
            if (_pairTallies.TryGetValue((tally.Champion, tally.Challenger), out PairTally? held))
            {
                held.Add(tally);
            }
            else
            {
                _pairTallies.Add((tally.Champion, tally.Challenger), ModelScores.Copy(tally));
            }
        }
    }

    /// <summary>A copy of every tally held (what the asset has scored, in total).</summary>
    public ModelScores Snapshot() => new(
        [.. _tallies?.Values.Select(ModelScores.Copy) ?? []],
        [.. _pairTallies?.Values.Select(ModelScores.Copy) ?? []]);

    /// <summary>Marks the tallies changed again (a write of them failed).</summary>
    public void MarkChanged() => Changed = true;

    /// <summary>A copy of every tally, to be stored; <see cref="Changed"/> is false until another outcome is scored.</summary>
    public ModelScores TakeChanges()
    {
        Changed = false;
        return Snapshot();
    }

    /// <summary>The loss and hit of one prediction <paramref name="predicted"/>, given the closes <paramref name="from"/> and <paramref name="to"/> k bars apart.</summary>
    public static Outcome Score(LabelKind kind, double predicted, double from, double to)
    {
        if (kind == LabelKind.Direction)
        {
            double y = to > from ? 1 : 0;
            bool hit = predicted > 0.5 ? y == 1 : y == 0;
            double p = Math.Clamp(predicted, Clip, 1 - Clip);
            // Only the log of the outcome that happened: y is 0 or 1, so the other term of y log p + (1 - y) log(1 - p)
            // is a zero times a finite log, and adding that zero changes no bit of the sum (p stays inside (0, 1)).
            double logLoss = -(y == 1 ? Math.Log(p) : Math.Log(1 - p));
            double brier = (predicted - y) * (predicted - y);
            return new Outcome(hit, logLoss, brier, 0);
        }
        double actual = Math.Log(to / from);
        double error = predicted - actual;
        return new Outcome(predicted > 0 == actual > 0, 0, 0, error * error);
    }

    /// <summary>One scored prediction: a hit or not, and its losses (0 where the kind has none).</summary>
    public readonly record struct Outcome(bool Hit, double LogLoss, double Brier, double SquaredError)
    {
        /// <summary>The loss a pair compares: log loss for direction models, squared error for return models.</summary>
        public double PairLoss(LabelKind kind) => kind == LabelKind.Direction ? LogLoss : SquaredError;
    }

    // One scored version: its pending predictions (slot b % k holds the one made after bar b, NaN where none was)
    // and what the latest bar scored, for the pairs.
    private sealed class Track(ScoredVersion version, OutcomeTally tally, VersionScoreCounters counters)
    {
        public ScoredVersion Version { get; } = version;

        public float[] Pending { get; } = NewPending(version.Label.Horizon);

        public bool ScoredNow { get; private set; }

        // Outcomes not yet added to the silo's counters: added once per call (PublishCounts), not per outcome, since
        // the counters are shared by every asset and each addition is an atomic operation (five per outcome).
        private UnpublishedOutcomes _unpublished;

        public void PublishCounts()
        {
            if (_unpublished.Outcomes > 0)
            {
                counters.Scored(_unpublished.Outcomes, _unpublished.Hits, _unpublished.LogLossSum, _unpublished.BrierSum, _unpublished.SquaredErrorSum);
                _unpublished = default;
            }
        }

        public Outcome Now { get; private set; }

        private static float[] NewPending(int horizon)
        {
            var pending = new float[horizon];
            Array.Fill(pending, float.NaN);
            return pending;
        }

        public void Score(long bar, double[] closes)
        {
            int k = Version.Label.Horizon;
            int slot = (int)(bar % k);
            float predicted = Pending[slot];
            Pending[slot] = float.NaN;  // the slot now waits for this bar's prediction
            ScoredNow = false;
            if (float.IsNaN(predicted) || bar < k)
            {
                return;
            }
            double from = closes[(bar - k) % closes.Length];
            double to = closes[bar % closes.Length];
            if (double.IsNaN(from))
            {
                return;
            }
            Outcome outcome = OutcomeScorer.Score(Version.Label.Kind, predicted, from, to);
            tally.Outcomes++;
            tally.Hits += outcome.Hit ? 1 : 0;
            tally.LogLossSum += outcome.LogLoss;
            tally.BrierSum += outcome.Brier;
            tally.SquaredErrorSum += outcome.SquaredError;
            _unpublished.Add(outcome);
            Now = outcome;
            ScoredNow = true;
        }
    }

    // A version's outcomes since its counters were last added to, summed in scoring order.
    private struct UnpublishedOutcomes
    {
        public long Outcomes;
        public long Hits;
        public double LogLossSum;
        public double BrierSum;
        public double SquaredErrorSum;

        public void Add(Outcome outcome)
        {
            Outcomes++;
            Hits += outcome.Hit ? 1 : 0;
            LogLossSum += outcome.LogLoss;
            BrierSum += outcome.Brier;
            SquaredErrorSum += outcome.SquaredError;
        }
    }

    // The served version against one shadow of the same label, with the latest k - 1 loss differences of this asset
    // for the lag sums.
    private sealed class PairTrack(Track champion, Track challenger, PairTally tally)
    {
        private readonly double[] _recent = new double[Math.Max(1, champion.Version.Label.Horizon - 1)];
        private long _count;  // pair outcomes of this asset so far: the next one's index

        public PendingPair Pending() => new(champion.Version.Model, challenger.Version.Model, (double[])_recent.Clone(), _count);

        public void Resume(PendingPair pending)
        {
            if (pending.Recent.Length == _recent.Length && pending.Count >= 0)
            {
                pending.Recent.CopyTo(_recent, 0);
                _count = pending.Count;
            }
        }

        public Track Champion => champion;

        public Track Challenger => challenger;

        public void Score()
        {
            if (!champion.ScoredNow || !challenger.ScoredNow)
            {
                return;
            }
            LabelKind kind = champion.Version.Label.Kind;
            (Outcome a, Outcome b) = (champion.Now, challenger.Now);
            tally.Pairs++;
            if (a.Hit && b.Hit)
            {
                tally.BothHit++;
            }
            else if (a.Hit)
            {
                tally.ChampionOnlyHits++;
            }
            else if (b.Hit)
            {
                tally.ChallengerOnlyHits++;
            }
            double d = a.PairLoss(kind) - b.PairLoss(kind);
            tally.DifferenceSum += d;
            tally.DifferenceSquareSum += d * d;
            int lags = tally.LagProducts.Length;
            for (int l = 1; l <= lags && l <= _count; l++)
            {
                double earlier = _recent[(_count - l) % lags];
                tally.LagProducts[l - 1] += d * earlier;
                tally.LagLeading[l - 1] += d;
                tally.LagTrailing[l - 1] += earlier;
                tally.LagCounts[l - 1]++;
            }
            _recent[_count % _recent.Length] = d;
            _count++;
        }
    }
}

/// <summary>A version scored, with the label its lineage names.</summary>
internal sealed record ScoredVersion(ModelRef Model, LabelDefinition Label);
