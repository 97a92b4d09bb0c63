using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Training.Drift;

/// <summary>
/// The batch drift scan: for one model version's references (<see cref="Series"/>, usually its profile's features), the
/// statistics of <see cref="DriftStatistics.Compare"/> for every asset x series in one call, and Benjamini-Hochberg across
/// each asset's series. Made for many assets: a worker silo gathers every asset's window counts and scans them at once.
/// </summary>
/// <remarks>
/// <para>Layout: assets innermost, so that one bin of one series over every asset is one run of memory and the statistics
/// are computed many assets at a time (SIMD lanes are assets). With <c>A</c> assets, the live count of asset <c>j</c> in
/// bin <c>b</c> of series <c>s</c> is <c>counts[(Row(s) + b) * A + j]</c> (<see cref="Rows"/> x A in all), and its missing
/// count <c>missing[s * A + j]</c>. <see cref="Write"/> lays a <see cref="DriftWindow"/> out this way.</para>
/// <para>Where every bin of a series expects at least <see cref="DriftStatistics.MinimumExpected"/> live values (the
/// usual case: full windows), the statistics come from one of two fast paths. A chunk of assets whose windows all hold
/// the same number of values (full windows without missing values, the commonest case) takes each bin's PSI,
/// Jensen-Shannon and chi-square terms from tables over the integer counts, which holds the logarithms to two per
/// distinct count of a bin rather than two per asset and bin. Any other chunk takes vectorized passes (TensorPrimitives
/// for the sums and conversions, then one fused Vector256 pass per bin with its logarithms inline). Both take the
/// p-values from <see cref="ChiSquare.Survival(ReadOnlySpan{double}, double, Span{double})"/>. Any other asset (a short
/// window, an empty one, a reference with an empty bin) goes through <see cref="DriftStatistics.Compare"/> itself. The
/// fast paths' results differ from Compare's in rounding only (tested to 1e-11 relative): they take
/// <c>ln a - ln e</c> where Compare takes <c>ln(a / e)</c>, and the per-bin passes' logarithms are Vector256.Log, not
/// Math.Log.</para>
/// </remarks>
public sealed class DriftScan
{
    private const int Chunk = 512;             // assets per pass: a pass's columns stay in the first-level cache
    private const double Tiny = 1e-300;        // a logarithm's argument floor: 0 ln 0 counts as 0
    private static readonly double LogPsiFloor = Math.Log(DriftStatistics.PsiFloor);

    private readonly FeatureReference[] _series;
    private readonly int[] _rows;
    private readonly Prepared[] _prepared;

    /// <summary>A scan over <paramref name="series"/> (e.g. a profile's <see cref="ReferenceProfile.Features"/>).</summary>
    public DriftScan(IReadOnlyList<FeatureReference> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        _series = [.. series];
        _rows = new int[_series.Length + 1];
        _prepared = new Prepared[_series.Length];
        for (int s = 0; s < _series.Length; s++)
        {
            ArgumentNullException.ThrowIfNull(_series[s]);
            _rows[s + 1] = _rows[s] + _series[s].Bins;
            _prepared[s] = new Prepared(_series[s]);
        }
    }

    /// <summary>The series scanned, in the order of the layout.</summary>
    public IReadOnlyList<FeatureReference> Series => _series;

    /// <summary>Bins over every series: the rows of the counts' layout.</summary>
    public int Rows => _rows[^1];

    /// <summary>The layout's row of series <paramref name="series"/>'s first bin.</summary>
    public int Row(int series) => _rows[series];

    /// <summary>Copies a window's counts into the scan's layout as asset <paramref name="asset"/> of <paramref name="assets"/>.</summary>
    /// <exception cref="ArgumentException">The window does not count this scan's series, or the spans do not fit the layout.</exception>
    public void Write(DriftWindow window, int asset, int assets, Span<int> counts, Span<int> missing)
    {
        ArgumentNullException.ThrowIfNull(window);
        CheckLayout(counts.Length, missing.Length, assets);
        ArgumentOutOfRangeException.ThrowIfNegative(asset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(asset, assets);
        if (window.SeriesCount != _series.Length)
        {
            throw new ArgumentException($"drift scan: the window counts {window.SeriesCount} series, the scan {_series.Length}");
        }
        for (int s = 0; s < _series.Length; s++)
        {
            if (window.Reference(s).Bins != _series[s].Bins || window.Reference(s).Name != _series[s].Name)
            {
                throw new ArgumentException($"drift scan: the window's series {s} is '{window.Reference(s).Name}' of {window.Reference(s).Bins} bins, the scan's '{_series[s].Name}' of {_series[s].Bins}");
            }
            ReadOnlySpan<int> live = window.Counts(s);
            for (int b = 0; b < live.Length; b++)
            {
                counts[(_rows[s] + b) * assets + asset] = live[b];
            }
            missing[s * assets + asset] = window.Missing(s);
        }
    }

    /// <summary>Scans <paramref name="assets"/> assets' counts (laid out as the remarks say) and flags drift at <paramref name="alpha"/>.</summary>
    public DriftScanResult Scan(ReadOnlySpan<int> counts, ReadOnlySpan<int> missing, int assets, double alpha)
    {
        var result = new DriftScanResult(assets, _series.Length);
        Scan(counts, missing, alpha, result);
        return result;
    }

    /// <summary>Scans into <paramref name="result"/> (reused between scans of as many assets), flagging drift at <paramref name="alpha"/>.</summary>
    /// <exception cref="ArgumentException">The spans do not fit the layout for the result's assets, or a count is negative (named by series, bin and asset).</exception>
    public void Scan(ReadOnlySpan<int> counts, ReadOnlySpan<int> missing, double alpha, DriftScanResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), $"alpha must be between 0 and 1 (got {alpha})");
        }
        if (result.SeriesCount != _series.Length)
        {
            throw new ArgumentException($"drift scan: a result for {result.SeriesCount} series, the scan has {_series.Length}");
        }
        int assets = result.Assets;
        CheckCounts(counts, missing, assets);
        var work = new Workspace(_series.Max(s => s.Bins));
        for (int s = 0; s < _series.Length; s++)
        {
            for (int first = 0; first < assets; first += Chunk)
            {
                ScanChunk(s, first, Math.Min(Chunk, assets - first), counts, missing, assets, result, work);
            }
        }
        result.Flag(alpha);
    }

    /// <summary>Checks that <paramref name="counts"/> and <paramref name="missing"/> fit the layout for <paramref name="assets"/> assets and hold no negative count.</summary>
    /// <exception cref="ArgumentException">They do not fit, or a count is negative (named by series, bin and asset).</exception>
    public void CheckCounts(ReadOnlySpan<int> counts, ReadOnlySpan<int> missing, int assets)
    {
        CheckLayout(counts.Length, missing.Length, assets);
        int negative = counts.IndexOfAnyInRange(int.MinValue, -1);
        if (negative >= 0)
        {
            int row = negative / assets, series = Array.FindLastIndex(_rows, r => r <= row);
            throw new ArgumentException($"drift scan: counts of series {series} ('{_series[series].Name}') bin {row - _rows[series]} asset {negative % assets} is {counts[negative]}, below 0");
        }
        negative = missing.IndexOfAnyInRange(int.MinValue, -1);
        if (negative >= 0)
        {
            throw new ArgumentException($"drift scan: missing of series {negative / assets} asset {negative % assets} is {missing[negative]}, below 0");
        }
    }

    private void CheckLayout(int countsLength, int missingLength, int assets)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(assets);
        if (countsLength != (long)Rows * assets || missingLength != (long)_series.Length * assets)
        {
            throw new ArgumentException($"drift scan: {assets} assets need {(long)Rows * assets} counts and {(long)_series.Length * assets} missing counts, not {countsLength} and {missingLength}");
        }
    }

    private void ScanChunk(int s, int first, int length, ReadOnlySpan<int> counts, ReadOnlySpan<int> missing, int assets, DriftScanResult result, Workspace work)
    {
        FeatureReference reference = _series[s];
        Prepared prepared = _prepared[s];
        int output = s * assets + first, row = _rows[s];
        Span<int> n = result.Count.AsSpan(output, length);
        n.Clear();
        for (int b = 0; b < reference.Bins; b++)
        {
            TensorPrimitives.Add(n, counts.Slice((row + b) * assets + first, length), n);
        }
        missing.Slice(output, length).CopyTo(result.Missing.AsSpan(output, length));
        bool uniform = length > 0 && TensorPrimitives.Min<int>(n) == TensorPrimitives.Max<int>(n);
        // A chunk of equal windows too short for the test goes through Compare below whole: no fast path's results are kept.
        bool fast = prepared.Vectorized && (!uniform || DriftStatistics.ExpectsEnough(n[0], prepared.SmallestCount, reference.Present));
        if (fast && uniform)
        {
            ScanUniform(s, n[0], first, length, counts, assets, result, work);
        }
        else if (fast)
        {
            Span<double> psi = result.Psi.AsSpan(output, length), js = result.JensenShannon.AsSpan(output, length);
            Span<double> wasserstein = result.Wasserstein.AsSpan(output, length), chi = result.ChiSquare.AsSpan(output, length);
            psi.Clear();
            js.Clear();
            wasserstein.Clear();
            chi.Clear();
            Span<double> inverse = work.Inverse.AsSpan(0, length), cumulative = work.Cumulative.AsSpan(0, length);
            Span<double> live = work.Live.AsSpan(0, length);
            TensorPrimitives.ConvertChecked<int, double>(n, inverse);
            TensorPrimitives.Divide(1.0, inverse, inverse);
            cumulative.Clear();
            for (int b = 0; b < reference.Bins; b++)
            {
                TensorPrimitives.ConvertChecked<int, double>(counts.Slice((row + b) * assets + first, length), live);
                Accumulate(prepared, b, live, inverse, psi, js, chi, cumulative, wasserstein);
            }
            for (int k = 0; k < length; k++)
            {
                js[k] = Math.Sqrt(Math.Max(0, js[k] / (2 * Math.Log(2))));
                chi[k] *= (double)n[k] * reference.Present;
            }
            result.DegreesOfFreedom.AsSpan(output, length).Fill(reference.Bins - 1);
            ChiSquare.Survival(chi, reference.Bins - 1, result.PValue.AsSpan(output, length));
        }
        for (int k = 0; k < length; k++)
        {
            if (!prepared.Vectorized || !DriftStatistics.ExpectsEnough(n[k], prepared.SmallestCount, reference.Present))
            {
                Span<int> gathered = work.Gathered.AsSpan(0, reference.Bins);
                for (int b = 0; b < gathered.Length; b++)
                {
                    gathered[b] = counts[(row + b) * assets + first + k];
                }
                result.Set(first + k, s, DriftStatistics.Compare(reference, gathered, missing[output + k]));
            }
        }
    }

    /// <summary>
    /// A chunk whose assets all hold <paramref name="n"/> live values (full windows without missing values, the usual
    /// case): a bin's PSI, Jensen-Shannon and chi-square terms are then functions of its integer count alone, so they come
    /// from per-bin tables over the counts met (two logarithms per distinct count of the series rather than per asset and
    /// bin), and each asset's bins are summed in registers. The terms are Accumulate's, evaluated the same way.
    /// </summary>
    private void ScanUniform(int s, int n, int first, int length, ReadOnlySpan<int> counts, int assets, DriftScanResult result, Workspace work)
    {
        FeatureReference reference = _series[s];
        Prepared prepared = _prepared[s];
        int output = s * assets + first, row = _rows[s], bins = reference.Bins;
        CountTerms terms = work.TermsOf(s, n, bins);
        for (int b = 0; b < bins; b++)
        {
            terms.Cover(prepared, b, TensorPrimitives.Max<int>(counts.Slice((row + b) * assets + first, length)));
        }
        double inverse = 1.0 / n, scale = (double)n * reference.Present, toBits = 2 * Math.Log(2);
        double[] share = prepared.Share, gap = prepared.Gap;
        double[][] table = terms.Table;
        Span<double> chi = result.ChiSquare.AsSpan(output, length);
        for (int k = 0; k < length; k++)
        {
            double psi = 0, js = 0, sum = 0, wasserstein = 0, cumulative = 0;
            int at = row * assets + first + k;
            for (int b = 0; b < bins; b++, at += assets)
            {
                int c = counts[at];
                double[] entries = table[b];
                psi += entries[3 * c];
                js += entries[3 * c + 1];
                sum += entries[3 * c + 2];
                wasserstein += Math.Abs(cumulative) * gap[b];
                cumulative += c * inverse - share[b];
            }
            result.Psi[output + k] = psi;
            result.JensenShannon[output + k] = Math.Sqrt(Math.Max(0, js / toBits));
            result.Wasserstein[output + k] = wasserstein;
            chi[k] = sum * scale;
        }
        result.DegreesOfFreedom.AsSpan(output, length).Fill(bins - 1);
        ChiSquare.Survival(chi, bins - 1, result.PValue.AsSpan(output, length));
    }

    /// <summary>
    /// Adds bin <paramref name="b"/>'s terms of every statistic, four assets at a time, in one pass: the logarithms
    /// inline rather than as TensorPrimitives passes of their own, which measured about a quarter slower for the extra
    /// trips through memory.
    /// </summary>
    private static void Accumulate(Prepared prepared, int b, ReadOnlySpan<double> live, ReadOnlySpan<double> inverse,
        Span<double> psi, Span<double> js, Span<double> chi, Span<double> cumulative, Span<double> wasserstein)
    {
        double e = prepared.Share[b], floored = Math.Max(e, DriftStatistics.PsiFloor), logFloored = Math.Log(floored);
        double logE = Math.Log(Math.Max(e, Tiny)), referenceCount = prepared.Counts[b], gap = prepared.Gap[b];
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref double liveAt = ref MemoryMarshal.GetReference(live), inverseAt = ref MemoryMarshal.GetReference(inverse);
            ref double psiAt = ref MemoryMarshal.GetReference(psi), jsAt = ref MemoryMarshal.GetReference(js), chiAt = ref MemoryMarshal.GetReference(chi);
            ref double cumulativeAt = ref MemoryMarshal.GetReference(cumulative), wassersteinAt = ref MemoryMarshal.GetReference(wasserstein);
            Vector256<double> ve = Vector256.Create(e), vFloored = Vector256.Create(floored), vLogFloored = Vector256.Create(logFloored);
            Vector256<double> vFloor = Vector256.Create(DriftStatistics.PsiFloor), vLogFloor = Vector256.Create(LogPsiFloor);
            Vector256<double> vLogE = Vector256.Create(logE), vReference = Vector256.Create(referenceCount), vGap = Vector256.Create(gap);
            Vector256<double> vTiny = Vector256.Create(Tiny), half = Vector256.Create(0.5);
            for (; k <= live.Length - 4; k += 4)
            {
                nuint at = (nuint)k;
                Vector256<double> l = Vector256.LoadUnsafe(ref liveAt, at);
                Vector256<double> a = l * Vector256.LoadUnsafe(ref inverseAt, at);
                Vector256<double> la = Vector256.Log(Vector256.Max(a, vTiny));
                Vector256<double> lm = Vector256.Log(Vector256.Max((a + ve) * half, vTiny));
                Vector256<double> psiTerm = (Vector256.Max(a, vFloor) - vFloored) * (Vector256.Max(la, vLogFloor) - vLogFloored);
                (Vector256.LoadUnsafe(ref psiAt, at) + psiTerm).StoreUnsafe(ref psiAt, at);
                Vector256<double> jsTerm = a * (la - lm) + ve * (vLogE - lm);
                (Vector256.LoadUnsafe(ref jsAt, at) + jsTerm).StoreUnsafe(ref jsAt, at);
                Vector256<double> d = a - ve;
                (Vector256.LoadUnsafe(ref chiAt, at) + d * d / (l + vReference)).StoreUnsafe(ref chiAt, at);
                Vector256<double> c = Vector256.LoadUnsafe(ref cumulativeAt, at);
                (Vector256.LoadUnsafe(ref wassersteinAt, at) + Vector256.Abs(c) * vGap).StoreUnsafe(ref wassersteinAt, at);
                (c + d).StoreUnsafe(ref cumulativeAt, at);
            }
        }
        for (; k < live.Length; k++)
        {
            double a = live[k] * inverse[k], la = Math.Log(Math.Max(a, Tiny)), lm = Math.Log(Math.Max((a + e) * 0.5, Tiny));
            psi[k] += (Math.Max(a, DriftStatistics.PsiFloor) - floored) * (Math.Max(la, LogPsiFloor) - logFloored);
            js[k] += a * (la - lm) + e * (logE - lm);
            double d = a - e;
            chi[k] += d * d / (live[k] + referenceCount);
            wasserstein[k] += Math.Abs(cumulative[k]) * gap;
            cumulative[k] += d;
        }
    }

    /// <summary>A reference's per-bin constants.</summary>
    private sealed class Prepared
    {
        public Prepared(FeatureReference reference)
        {
            int bins = reference.Bins;
            Share = new double[bins];
            Counts = new double[bins];
            Gap = new double[bins];
            for (int b = 0; b < bins; b++)
            {
                Counts[b] = reference.Counts[b];
                Share[b] = reference.Present == 0 ? 0 : reference.Counts[b] / (double)reference.Present;
                // The Wasserstein term of bin b is |CDF difference through bin b - 1| times the step to bin b's center.
                Gap[b] = b == 0 || reference.Present == 0 ? 0 : reference.Center(b) - reference.Center(b - 1);
            }
            // The vector path divides by (live + reference) per bin and tests every bin: it needs every bin seen.
            SmallestCount = reference.Counts.Min();
            Vectorized = bins > 1 && SmallestCount > 0;
        }

        public long SmallestCount { get; }

        public double[] Share { get; }

        public double[] Counts { get; }

        public double[] Gap { get; }

        public bool Vectorized { get; }
    }

    /// <summary>
    /// One series' terms per bin and live count for windows of <see cref="N"/> values: <c>Table[b][3c..3c+2]</c> are the
    /// PSI, Jensen-Shannon and chi-square terms of count <c>c</c> in bin <c>b</c>, filled up to the largest count met.
    /// </summary>
    private sealed class CountTerms(int series, int n, int bins)
    {
        private readonly int[] _filled = new int[bins];

        public int SeriesIndex { get; } = series;

        public int N { get; } = n;

        public double[][] Table { get; } = [.. Enumerable.Range(0, bins).Select(_ => Array.Empty<double>())];

        public void Cover(Prepared prepared, int b, int largest)
        {
            if (largest < _filled[b])
            {
                return;
            }
            if (3 * (largest + 1) > Table[b].Length)
            {
                double[] grown = new double[3 * Math.Min(N + 1, Math.Max(largest + 1, Table[b].Length / 3 * 2))];
                Table[b].AsSpan(0, 3 * _filled[b]).CopyTo(grown);
                Table[b] = grown;
            }
            double e = prepared.Share[b], floored = Math.Max(e, DriftStatistics.PsiFloor), logFloored = Math.Log(floored);
            double logE = Math.Log(Math.Max(e, Tiny)), referenceCount = prepared.Counts[b], inverse = 1.0 / N;
            for (int c = _filled[b]; c <= largest; c++)
            {
                double a = c * inverse, la = Math.Log(Math.Max(a, Tiny)), lm = Math.Log(Math.Max((a + e) * 0.5, Tiny)), d = a - e;
                Table[b][3 * c] = (Math.Max(a, DriftStatistics.PsiFloor) - floored) * (Math.Max(la, LogPsiFloor) - logFloored);
                Table[b][3 * c + 1] = a * (la - lm) + e * (logE - lm);
                Table[b][3 * c + 2] = d * d / (c + referenceCount);
            }
            _filled[b] = largest + 1;
        }
    }

    private sealed class Workspace(int maxBins)
    {
        private CountTerms? _terms;

        /// <summary>The count terms of series <paramref name="series"/> at windows of <paramref name="n"/>, kept while chunks share them.</summary>
        public CountTerms TermsOf(int series, int n, int bins)
        {
            if (_terms is null || _terms.SeriesIndex != series || _terms.N != n)
            {
                _terms = new CountTerms(series, n, bins);
            }
            return _terms;
        }

        public double[] Inverse { get; } = new double[Chunk];
        public double[] Cumulative { get; } = new double[Chunk];
        public double[] Live { get; } = new double[Chunk];
        public int[] Gathered { get; } = new int[maxBins];
    }
}

/// <summary>
/// What a <see cref="DriftScan"/> found: per asset x series the statistics of <see cref="FeatureDrift"/> and whether
/// Benjamini-Hochberg across the asset's series flags it, in arrays indexed by <see cref="Index"/> (series-major:
/// <c>series * Assets + asset</c>); per asset how many series drift.
/// </summary>
public sealed class DriftScanResult
{
    /// <summary>An empty result for <paramref name="assets"/> assets of <paramref name="series"/> series.</summary>
    public DriftScanResult(int assets, int series)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(assets);
        ArgumentOutOfRangeException.ThrowIfNegative(series);
        int cells = checked(assets * series);
        Assets = assets;
        SeriesCount = series;
        Count = new int[cells];
        Missing = new int[cells];
        Psi = new double[cells];
        JensenShannon = new double[cells];
        Wasserstein = new double[cells];
        ChiSquare = new double[cells];
        DegreesOfFreedom = new int[cells];
        PValue = new double[cells];
        Drifting = new bool[cells];
        DriftingSeries = new int[assets];
    }

    /// <summary>How many assets.</summary>
    public int Assets { get; }

    /// <summary>How many series per asset.</summary>
    public int SeriesCount { get; }

    /// <summary>Live values present, per cell.</summary>
    public int[] Count { get; }

    /// <summary>Live values missing, per cell.</summary>
    public int[] Missing { get; }

    /// <summary>Population stability index per cell (<see cref="FeatureDrift.Psi"/>).</summary>
    public double[] Psi { get; }

    /// <summary>Jensen-Shannon distance, base 2, per cell.</summary>
    public double[] JensenShannon { get; }

    /// <summary>Wasserstein-1 over the bins per cell.</summary>
    public double[] Wasserstein { get; }

    /// <summary>The two-sample chi-square statistic per cell.</summary>
    public double[] ChiSquare { get; }

    /// <summary>The chi-square test's degrees of freedom per cell.</summary>
    public int[] DegreesOfFreedom { get; }

    /// <summary>The chi-square test's p-value per cell (NaN: nothing to test).</summary>
    public double[] PValue { get; }

    /// <summary>Whether Benjamini-Hochberg across the asset's series flags the cell.</summary>
    public bool[] Drifting { get; }

    /// <summary>Per asset, how many of its series are flagged.</summary>
    public int[] DriftingSeries { get; }

    /// <summary>Where asset <paramref name="asset"/>'s series <paramref name="series"/> sits in the per-cell arrays.</summary>
    public int Index(int asset, int series)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(asset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(asset, Assets);
        ArgumentOutOfRangeException.ThrowIfNegative(series);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(series, SeriesCount);
        return series * Assets + asset;
    }

    /// <summary>One cell's statistics.</summary>
    public FeatureDrift this[int asset, int series]
    {
        get
        {
            int i = Index(asset, series);
            return new FeatureDrift(Count[i], Missing[i], Psi[i], JensenShannon[i], Wasserstein[i], ChiSquare[i], DegreesOfFreedom[i], PValue[i]);
        }
    }

    /// <summary>
    /// Flags each asset's series from the p-values by Benjamini-Hochberg across that asset's series at
    /// <paramref name="alpha"/> (<see cref="Drifting"/>, <see cref="DriftingSeries"/>). The scans call it once the
    /// statistics are in; the GPU scan shares it so both flag alike.
    /// </summary>
    public void Flag(double alpha)
    {
        Span<double> p = SeriesCount <= 256 ? stackalloc double[SeriesCount] : new double[SeriesCount];
        Span<bool> rejected = SeriesCount <= 256 ? stackalloc bool[SeriesCount] : new bool[SeriesCount];
        for (int j = 0; j < Assets; j++)
        {
            for (int s = 0; s < p.Length; s++)
            {
                p[s] = PValue[s * Assets + j];
            }
            DriftingSeries[j] = BenjaminiHochberg.Reject(p, alpha, rejected);
            for (int s = 0; s < p.Length; s++)
            {
                Drifting[s * Assets + j] = rejected[s];
            }
        }
    }

    internal void Set(int asset, int series, FeatureDrift drift)
    {
        int i = Index(asset, series);
        (Count[i], Missing[i], Psi[i], JensenShannon[i], Wasserstein[i], ChiSquare[i], DegreesOfFreedom[i], PValue[i]) =
            (drift.Count, drift.Missing, drift.Psi, drift.JensenShannon, drift.Wasserstein, drift.ChiSquare, drift.DegreesOfFreedom, drift.PValue);
    }
}
