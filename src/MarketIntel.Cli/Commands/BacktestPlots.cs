using System.Globalization;
using MarketIntel.CommandLine;
using ScottPlot;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The backtest report's plots, drawn with ScottPlot (a maintained plotting library, which the issue asked for
/// instead of a hand-written SVG writer) and saved as SVG so the Markdown report shows them anywhere.
/// </summary>
internal static class BacktestPlots
{
    private const int Width = 900, Height = 450;

    /// <summary>
    /// Equity curves, one per strategy, against the traded bars' dates (or bar numbers when a key is not a date),
    /// with gridlines on both axes, a grey line at 1.0 (the starting value) and a legend. On a log scale
    /// (<paramref name="logScale"/>) equal ratios are equal heights, the honest view of compounding over years; an
    /// equity of 0 or less (a strategy wiped out) cannot be drawn there and is refused.
    /// </summary>
    public static string Equity(string title, IReadOnlyList<string> keys, (string Name, double[] Equity)[] series, bool logScale = false)
    {
        if (logScale && series.FirstOrDefault(s => s.Equity.Any(v => !(v > 0))) is { Name: { } wipedOut })
        {
            throw new UsageException($"option '--log-scale': the equity of '{wipedOut}' falls to 0 or below, which a log scale cannot show");
        }
        var plot = new Plot();
        double[]? dates = Dates(keys);
        double[] x = dates ?? Enumerable.Range(1, keys.Count).Select(i => (double)i).ToArray();
        foreach (var (name, equity) in series)
        {
            var line = plot.Add.ScatterLine(x, logScale ? equity.Select(Math.Log10).ToArray() : equity);
            line.LegendText = name;
            line.LineWidth = 1.5f;
        }
        var start = plot.Add.HorizontalLine(logScale ? 0 : 1.0);
        start.Color = Colors.Gray;
        start.LegendText = "1.0 (the money put in)";
        if (dates is not null)
        {
            var axis = plot.Axes.DateTimeTicksBottom();
            if (axis.TickGenerator is ScottPlot.TickGenerators.DateTimeAutomatic automatic)
            {
                automatic.LabelFormatter = d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            }
        }
        plot.Title(title);
        plot.XLabel(dates is null ? "bar" : "date (close of the bar traded)");
        plot.YLabel(logScale ? "equity of 1 (log scale)" : "equity of 1");
        if (logScale)
        {
            // The lines are drawn at log10(equity); the ticks are labelled with the equity itself.
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = y => Math.Pow(10, y).ToString("0.###", CultureInfo.InvariantCulture),
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            };
        }
        plot.ShowLegend(Alignment.UpperLeft);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>
    /// Calibration: each tenth of predicted p(up) as a point at its mean prediction and the share of its rows that
    /// went up, sized and labelled by its row count, next to the diagonal a calibrated model lies on.
    /// </summary>
    public static string Calibration(string title, double[] probability, float[] labels)
    {
        const int bins = 10;
        var sum = new double[bins];
        var ups = new double[bins];
        var count = new int[bins];
        for (int i = 0; i < probability.Length; i++)
        {
            int k = Math.Min(bins - 1, (int)(probability[i] * bins));
            sum[k] += probability[i];
            ups[k] += labels[i];
            count[k]++;
        }
        var plot = new Plot();
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.Color = Colors.Gray;
        diagonal.LegendText = "calibrated (share up = p)";
        int most = Math.Max(1, count.Max());
        bool first = true;
        for (int k = 0; k < bins; k++)
        {
            if (count[k] == 0)
            {
                continue;
            }
            double px = sum[k] / count[k], py = ups[k] / count[k];
            var marker = plot.Add.Marker(px, py, MarkerShape.FilledCircle, 6 + 14 * (float)Math.Sqrt((double)count[k] / most));
            marker.Color = Colors.C0;
            if (first)
            {
                marker.LegendText = "a tenth of p(up): its rows' mean p and share up (size and label: rows)";
                first = false;
            }
            var label = plot.Add.Text(count[k].ToString(CultureInfo.InvariantCulture), px, py);
            label.LabelFontSize = 11;
            label.OffsetX = 10;
            label.OffsetY = -18;
        }
        plot.Axes.SetLimits(0, 1, 0, 1);
        plot.Title(title);
        plot.XLabel("predicted p(up)");
        plot.YLabel("share of rows that went up");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot.GetSvgXml(Width, Height);
    }

    // The keys as OLE automation dates (ScottPlot's date axis), or null unless every one is a date or date-time:
    // a plain number (a day count, Unix time) is no date here, and the axis counts bars instead.
    private static double[]? Dates(IReadOnlyList<string> keys)
    {
        var dates = new double[keys.Count];
        for (int i = 0; i < keys.Count; i++)
        {
            if (double.TryParse(keys[i], NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                || !DateTime.TryParse(keys[i], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime date))
            {
                return null;
            }
            dates[i] = date.ToOADate();
        }
        return dates;
    }
}
