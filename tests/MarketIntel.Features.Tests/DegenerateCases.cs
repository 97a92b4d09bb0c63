namespace MarketIntel.Features.Tests;

/// <summary>
/// The cells where TTR's answer is an artefact of its own rounding or a quirk, each recognised only after
/// proving the condition from the input bars with exact (decimal) arithmetic, independent of the engine:
/// <list type="bullet">
/// <item>a flat window (every value equal): %B, z-score and CCI are 0/0; TTR gives NaN, ±Inf or the ratio of two
/// rounding residues; we give an empty cell;</item>
/// <item>MFI over a window with no falling (or no moving) typical price: TTR defines 100 (or 50), but its running
/// sums can keep a rounding residue and then give another value; our sums are exactly zero there;</item>
/// <item>VWAP over a window with no volume: 0/0; TTR's running sums leave a residue and give ±Inf; we give an
/// empty cell;</item>
/// <item>vwap_1 and wma_1 on the first row: TTR blanks it (its <c>ma[1:(n-1)] &lt;- NA</c> with n = 1 is
/// <c>ma[1:0]</c>, which is row 1);</item>
/// <item>CCI where TTR's running-sum mean has drifted: ours must then be within tolerance of the exact value and
/// closer to it than TTR.</item>
/// </list>
/// </summary>
internal static class DegenerateCases
{
    public static string? Explain(FeatureDefinition feature, BarSeries bars, int row, double ours, double ttr)
    {
        int n = feature.Parameters.Count > 0 ? (int)feature.Parameters[0] : 0;
        switch (feature.Indicator)
        {
            case "bbpctb" or "zscore" when double.IsNaN(ours) && Flat(bars, row, n, Close):
                return "flat window";
            case "cci" when double.IsNaN(ours) && Flat(bars, row, n, Typical):
                return "flat window";
            case "cci" when CloserToExactCci(bars, row, n, ours, ttr):
                return "TTR's running mean drifted";
            case "mfi" when ours == 50 && NoMove(bars, row, n, falling: true) && NoMove(bars, row, n, falling: false):
                return "no money flow";
            case "mfi" when ours == 100 && NoMove(bars, row, n, falling: true):
                return "no negative money flow";
            case "vwap" when double.IsNaN(ours) && NoVolume(bars, row, n):
                return "no volume in the window";
            case "vwap" or "wma" when n == 1 && row == 0 && double.IsNaN(ttr) && double.IsFinite(ours):
                return "TTR blanks row 1 when n = 1";
            default:
                return null;
        }
    }

    private static decimal Close(BarSeries bars, int i) => (decimal)bars.Close[i];

    private static decimal Typical(BarSeries bars, int i) =>
        ((decimal)bars.High[i] + (decimal)bars.Low[i] + (decimal)bars.Close[i]) / 3;

    private static bool Flat(BarSeries bars, int row, int n, Func<BarSeries, int, decimal> value)
    {
        if (row - n + 1 < 0)
        {
            return false;
        }
        decimal first = value(bars, row);
        for (int j = row - n + 1; j <= row; j++)
        {
            if (value(bars, j) != first)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>No typical-price fall (or rise) over the n flows ending at row, or no volume where it moved.</summary>
    private static bool NoMove(BarSeries bars, int row, int n, bool falling)
    {
        for (int j = row - n + 1; j <= row; j++)
        {
            if (j < 1)
            {
                return false;
            }
            decimal now = Typical(bars, j), before = Typical(bars, j - 1);
            bool moved = falling ? now < before : now > before;
            if (moved && bars.Volume[j] != 0)
            {
                return false;
            }
        }
        return true;
    }

    private static bool NoVolume(BarSeries bars, int row, int n)
    {
        for (int j = Math.Max(0, row - n + 1); j <= row; j++)
        {
            if (bars.Volume[j] != 0)
            {
                return false;
            }
        }
        return row - n + 1 >= 0;
    }

    private static bool CloserToExactCci(BarSeries bars, int row, int n, double ours, double ttr)
    {
        if (row - n + 1 < 0 || !double.IsFinite(ttr) || !double.IsFinite(ours))
        {
            return false;
        }
        decimal sum = 0;
        for (int j = row - n + 1; j <= row; j++)
        {
            sum += Typical(bars, j);
        }
        decimal mean = sum / n;
        decimal dev = 0;
        for (int j = row - n + 1; j <= row; j++)
        {
            dev += Math.Abs(Typical(bars, j) - mean);
        }
        dev /= n;
        if (dev == 0)
        {
            return false;
        }
        double exact = (double)((Typical(bars, row) - mean) / (0.015m * dev));
        return Math.Abs(ours - exact) <= 1e-9 * Math.Max(1, Math.Abs(exact))
            && Math.Abs(ttr - exact) > Math.Abs(ours - exact);
    }
}
