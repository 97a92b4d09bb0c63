using System.Globalization;
using MarketIntel.Api.V1;
using ScottPlot;

namespace MarketIntel.Server.WebConsole;

/// <summary>
/// One series of one asset drawn as SVG with ScottPlot: the share of the reference's values and of the live window's
/// values in each bin of the reference, side by side, the bins labelled by their lower edge. The console's drift charts
/// and the CLI's drift report (<c>marketintel drift --report</c>) both draw it here.
/// </summary>
internal static class DriftHistogram
{
    /// <summary>The chart of <paramref name="series"/>, which carries its edges and both counts.</summary>
    public static string Svg(string title, FeatureDrift series, int width = 900, int height = 450)
    {
        int bins = series.ReferenceCounts.Count;
        double referenceTotal = Math.Max(1, series.ReferenceCounts.Sum());
        double liveTotal = Math.Max(1, series.LiveCounts.Sum());
        var plot = new Plot();
        var reference = plot.Add.Bars(
            [.. Enumerable.Range(0, bins).Select(b => b - 0.2)], [.. series.ReferenceCounts.Select(c => c / referenceTotal)]);
        reference.LegendText = "reference";
        reference.Color = Colors.Gray;
        var live = plot.Add.Bars(
            [.. Enumerable.Range(0, bins).Select(b => b + 0.2)], [.. series.LiveCounts.Select(c => c / liveTotal)]);
        live.LegendText = "live window";
        live.Color = Colors.C1;
        foreach (var b in reference.Bars.Concat(live.Bars))
        {
            b.Size = 0.4;
        }
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, bins).Select(b => (double)b)],
            [.. Enumerable.Range(0, bins).Select(b => BinLabel(series, b))]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 90;
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel("share of values");
        plot.ShowLegend(Edge.Right);
        return plot.GetSvgXml(width, height);
    }

    private static string BinLabel(FeatureDrift series, int bin) =>
        series.Edges.Count == 0 ? "every value" : bin == 0 ? "< " + Number(series.Edges[0]) : ">= " + Number(series.Edges[bin - 1]);

    private static string Number(float value) => value.ToString("G4", CultureInfo.InvariantCulture);
}
