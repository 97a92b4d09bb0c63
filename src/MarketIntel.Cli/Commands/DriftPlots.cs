using System.Globalization;
using ScottPlot;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The drift report's plots, drawn with ScottPlot (as the backtest report's are) and saved as SVG: a heatmap of the
/// population stability index over assets and features (one feature's histogram is the console's
/// <see cref="MarketIntel.Server.WebConsole.DriftHistogram"/>).
/// </summary>
internal static class DriftPlots
{
    /// <summary>The PSI at which the heatmap's colour scale tops out: the usual "major shift" reading is 0.25.</summary>
    public const double HeatmapPsiTop = 0.5;

    /// <summary>
    /// Assets (rows, in the order given) by features (columns, in the order given), each cell coloured by its PSI
    /// (capped at <see cref="HeatmapPsiTop"/>; grey where there is no number), with a colour bar.
    /// </summary>
    public static string Heatmap(string title, IReadOnlyList<string> assets, IReadOnlyList<string> features, double[,] psi)
    {
        var plot = new Plot();
        var capped = new double[assets.Count, features.Count];
        for (int r = 0; r < assets.Count; r++)
        {
            for (int c = 0; c < features.Count; c++)
            {
                capped[r, c] = double.IsFinite(psi[r, c]) ? Math.Min(psi[r, c], HeatmapPsiTop) : double.NaN;
            }
        }
        var heatmap = plot.Add.Heatmap(capped);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.ManualRange = new ScottPlot.Range(0, HeatmapPsiTop);
        heatmap.NaNCellColor = Colors.LightGray;
        // Cells drawn as vector rectangles: an embedded bitmap is blurred when the SVG is scaled.
        heatmap.RenderStrategy = new ScottPlot.Plottables.Heatmap.RenderStrategies.Rectangles();
        // Column c spans [c, c + 1] and row r (row 0 on top) spans [rows - r - 1, rows - r], so ticks sit at the centres.
        heatmap.Rectangle = new CoordinateRect(0, features.Count, 0, assets.Count);
        var bar = plot.Add.ColorBar(heatmap);
        bar.Label = $"PSI (capped at {HeatmapPsiTop.ToString(CultureInfo.InvariantCulture)})";
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, features.Count).Select(c => c + 0.5)], [.. features]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 10 + 7 * features.Max(f => f.Length);
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, assets.Count).Select(r => assets.Count - r - 0.5)], [.. assets]);
        plot.Axes.SetLimits(0, features.Count, 0, assets.Count);
        plot.Title(title);
        int width = Math.Clamp(200 + 22 * features.Count, 600, 2400);
        int height = Math.Clamp(160 + 18 * assets.Count + 7 * features.Max(f => f.Length), 400, 2400);
        return plot.GetSvgXml(width, height);
    }
}
