using MarketIntel.Training;

namespace MarketIntel.Training.Tests;

/// <summary>
/// The split scan has a vector path (hardware vectors) and a plain one (machines without them): both must pick the
/// same split, ties included, or a model would depend on the machine it was trained on.
/// </summary>
public sealed class SplitScanTests
{
    [Theory]
    [InlineData(1, 0.0, 1.0, 0.0)]
    [InlineData(7, 1.0, 1.0, 0.0)]
    [InlineData(64, 0.5, 0.1, 0.3)]
    [InlineData(255, 5.0, 2.0, 1.5)]
    public void The_plain_and_vector_scans_pick_the_same_split(int n, double minChildWeight, double lambda, double alpha)
    {
        var random = new Random(n);
        for (int trial = 0; trial < 200; trial++)
        {
            (double[] gl, double[] hl, SplitScan scan) = Candidates(random, n, minChildWeight, lambda, alpha, ties: trial % 4 == 0);
            (double gain, int position) plain = scan.Scalar(gl, hl, n);
            (double gain, int position) vector = scan.Vector(gl, hl, n);
            Assert.Equal(plain.position, vector.position);
            Assert.Equal(plain.gain, vector.gain);
        }
    }

    [Fact]
    public void Ties_go_to_the_first_candidate_in_scan_order()
    {
        // Only bin 3 holds rows and there are no missing values: splitting after bin 3, 4, 5 or 6, with missing
        // values either side, gives the same children. The first of those positions (after bin 3, missing left:
        // 2 x 3) must win.
        double[] g = [0, 0, 4, 4, 4, 4, 0, 0];
        double[] h = [0, 0, 2, 2, 2, 2, 0, 0];
        var scan = new SplitScan(0, 0, 4, 4, 0, 1, 0);
        (double _, int position) = scan.Scalar(g, h, 6);
        Assert.Equal(6, position);
        Assert.Equal(position, scan.Vector(g, h, 6).Position);
    }

    [Fact]
    public void No_split_meets_min_child_weight_gives_position_zero()
    {
        double[] g = [1, 2, 3, 4];
        double[] h = [1, 2, 3, 4];
        var scan = new SplitScan(0, 0, 4, 4, 10, 1, 0);
        Assert.Equal(0, scan.Scalar(g, h, 4).Position);
        Assert.Equal(0, scan.Vector(g, h, 4).Position);
    }

    private static (double[] Gl, double[] Hl, SplitScan Scan) Candidates(Random random, int n, double minChildWeight, double lambda, double alpha, bool ties)
    {
        int padded = (n + 3) & ~3;
        var gl = new double[padded];
        var hl = new double[padded];
        double g = 0, h = 0;
        for (int j = 0; j < n; j++)
        {
            // With ties, many bins are empty: equal cumulative sums, equal gains at several positions.
            bool empty = ties && random.Next(3) > 0;
            g += empty ? 0 : random.NextDouble() * 2 - 1;
            h += empty ? 0 : random.NextDouble();
            gl[j] = g;
            hl[j] = h;
        }
        for (int j = n; j < padded; j++)
        {
            hl[j] = double.NaN;   // as the grower pads: fails every min_child_weight test
        }
        double gMissing = random.NextDouble() - 0.5, hMissing = random.NextDouble() * 0.5;
        var scan = new SplitScan(gMissing, hMissing, g + gMissing + random.NextDouble() - 0.5, h + hMissing + random.NextDouble(), minChildWeight, lambda, alpha);
        return (gl, hl, scan);
    }
}
