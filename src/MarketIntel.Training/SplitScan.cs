using System.Runtime.Intrinsics;

namespace MarketIntel.Training;

/// <summary>
/// The candidates of one node and feature, scanned for the best split: after each value bin j (cumulative sums
/// gl[j], hl[j]), missing values left then right, at positions 2(j+1) and 2(j+1)+1; the first best in that order
/// wins. <see cref="Vector"/> takes four bins a vector; <see cref="Scalar"/> is the plain scan, used where vectors
/// run in software. Both return the same gain and position (position 0: no split meets min_child_weight).
/// </summary>
internal readonly record struct SplitScan(double GMissing, double HMissing, double G, double H, double MinChildWeight, double Lambda, double Alpha)
{
    /// <summary>The plain scan over the first <paramref name="n"/> candidates.</summary>
    public (double Gain, int Position) Scalar(ReadOnlySpan<double> gl, ReadOnlySpan<double> hl, int n)
    {
        double parent = Score(G, H);
        double bestGain = double.NegativeInfinity;
        int bestPos = 0;
        for (int j = 0; j < n; j++)
        {
            for (int missingRight = 0; missingRight < 2; missingRight++)
            {
                double gL = missingRight == 0 ? gl[j] + GMissing : gl[j], hL = missingRight == 0 ? hl[j] + HMissing : hl[j];
                double gR = G - gL, hR = H - hL;
                double gain = Score(gL, hL) + Score(gR, hR) - parent;
                if (hL >= MinChildWeight && hR >= MinChildWeight && gain > bestGain)
                {
                    (bestGain, bestPos) = (gain, 2 * (j + 1) + missingRight);
                }
            }
        }
        return (bestGain, bestPos);
    }

    /// <summary>
    /// Four bins a vector: each lane keeps its own first best and the lanes' bests are compared by gain, then by
    /// position. <paramref name="gl"/> and <paramref name="hl"/> are padded to a multiple of four, the padding's hl
    /// NaN so that it fails every min_child_weight test.
    /// </summary>
    public (double Gain, int Position) Vector(ReadOnlySpan<double> gl, ReadOnlySpan<double> hl, int n)
    {
        int padded = (n + 3) & ~3;
        var gm = Vector256.Create(GMissing);
        var hm = Vector256.Create(HMissing);
        var gNode = Vector256.Create(G);
        var hNode = Vector256.Create(H);
        var parent = Vector256.Create(Score(G, H));
        var minChild = Vector256.Create(MinChildWeight);
        var lambda = Vector256.Create(Lambda);
        var alpha = Vector256.Create(Alpha);
        Vector256<double> best = Vector256.Create(double.NegativeInfinity), bestAt = Vector256<double>.Zero;
        var at = Vector256.Create(2.0, 4, 6, 8);   // 2 x bin, + 1 for missing right: the scan's order
        var step = Vector256.Create(8.0);
        var one = Vector256.Create(1.0);
        for (int j = 0; j < padded; j += 4)
        {
            var gv = Vector256.Create(gl.Slice(j, 4));
            var hv = Vector256.Create(hl.Slice(j, 4));
            // Missing left.
            Vector256<double> gL = gv + gm, hL = hv + hm, gR = gNode - gL, hR = hNode - hL;
            Vector256<double> gain = Score(gL, hL, lambda, alpha) + Score(gR, hR, lambda, alpha) - parent;
            Vector256<double> ok = Vector256.GreaterThanOrEqual(hL, minChild) & Vector256.GreaterThanOrEqual(hR, minChild);
            Vector256<double> better = ok & Vector256.GreaterThan(gain, best);
            best = Vector256.ConditionalSelect(better, gain, best);
            bestAt = Vector256.ConditionalSelect(better, at, bestAt);
            // Missing right.
            gR = gNode - gv;
            hR = hNode - hv;
            gain = Score(gv, hv, lambda, alpha) + Score(gR, hR, lambda, alpha) - parent;
            ok = Vector256.GreaterThanOrEqual(hv, minChild) & Vector256.GreaterThanOrEqual(hR, minChild);
            better = ok & Vector256.GreaterThan(gain, best);
            best = Vector256.ConditionalSelect(better, gain, best);
            bestAt = Vector256.ConditionalSelect(better, at + one, bestAt);
            at += step;
        }
        double bestGain = double.NegativeInfinity;
        int bestPos = 0;
        for (int lane = 0; lane < 4; lane++)
        {
            double lg = best.GetElement(lane);
            int lp = (int)bestAt.GetElement(lane);
            if (lp > 0 && (lg > bestGain || (lg == bestGain && lp < bestPos)))
            {
                (bestGain, bestPos) = (lg, lp);
            }
        }
        return (bestGain, bestPos);
    }

    /// <summary>The gradient sum after L1 regularisation (alpha): shrunk towards zero, zero within [-alpha, alpha].</summary>
    public static double ThresholdL1(double g, double alpha) => g > alpha ? g - alpha : g < -alpha ? g + alpha : 0;

    private double Score(double g, double h)
    {
        double t = ThresholdL1(g, Alpha);
        return t * t / (h + Lambda);
    }

    /// <summary>The score of four children at once: as <see cref="Score(double, double)"/>, lane by lane.</summary>
    private static Vector256<double> Score(Vector256<double> g, Vector256<double> h, Vector256<double> lambda, Vector256<double> alpha)
    {
        Vector256<double> t = g - Vector256.Min(Vector256.Max(g, -alpha), alpha);   // L1 threshold
        return t * t / (h + lambda);
    }
}
