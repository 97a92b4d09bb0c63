using MarketIntel.Abstractions;
using ScottPlot;

namespace MarketIntel.Server.WebConsole;

/// <summary>
/// One asset's recent closes as a line, and the served version's prediction after each bar as points on a second axis
/// (right), drawn as SVG with ScottPlot for the console's asset page. Bars without a prediction get no point: the
/// grain predicts after every bar only when something needs it (see <see cref="AssetHistory"/>).
/// </summary>
internal static class PriceChart
{
    /// <summary>The legend's names of the two series (the tests look for them).</summary>
    public const string CloseLegend = "close", PredictionLegend = "prediction after the bar";

    /// <summary>The chart of <paramref name="history"/>, which holds one bar at least.</summary>
    public static string Svg(AssetHistory history, int width, int height)
    {
        double[] times = [.. history.Timestamps.Select(t => DateTimeOffset.FromUnixTimeMilliseconds(t).UtcDateTime.ToOADate())];
        var plot = new Plot();
        double[] closes = [.. history.Closes];
        var close = plot.Add.Scatter(times, closes);
        close.LegendText = CloseLegend;
        close.MarkerSize = 0;
        close.Color = Colors.Gray;
        int[] predicted = [.. Enumerable.Range(0, times.Length).Where(i => !float.IsNaN(history.Predictions[i]))];
        if (predicted.Length > 0)
        {
            double[] predictedTimes = [.. predicted.Select(i => times[i])];
            double[] values = [.. predicted.Select(i => (double)history.Predictions[i])];
            var prediction = plot.Add.Scatter(predictedTimes, values);
            prediction.LegendText = PredictionLegend;
            prediction.LineWidth = 0;
            prediction.MarkerSize = 4;
            prediction.Color = Colors.C1;
            prediction.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "prediction";
        }
        plot.Axes.DateTimeTicksBottom();
        plot.YLabel("close");
        plot.Title(predicted.Length > 0
            ? $"{history.Asset}: last {times.Length} bars, {predicted.Length} predicted"
            : $"{history.Asset}: last {times.Length} bars, no predictions kept");
        plot.ShowLegend(Edge.Bottom);
        return plot.GetSvgXml(width, height);
    }
}
