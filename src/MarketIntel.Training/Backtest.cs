namespace MarketIntel.Training;

/// <summary>What a long/short strategy earned, bar by bar and in sum.</summary>
/// <param name="Returns">Each period's return after costs.</param>
/// <param name="Equity">The value of 1 invested, after each period.</param>
/// <param name="CumulativeReturn">The last equity value minus 1.</param>
/// <param name="Sharpe">Mean over standard deviation of the period returns, annualised.</param>
/// <param name="MaxDrawdown">The largest fall of equity from a previous peak, as a share of that peak.</param>
/// <param name="HitRate">Of the periods in the market, the share that gained before costs.</param>
/// <param name="Turnover">Units traded per period.</param>
public sealed record BacktestResult(double[] Returns, double[] Equity, double CumulativeReturn, double Sharpe, double MaxDrawdown, double HitRate, double Turnover);

/// <summary>
/// A long/short backtest: position p_t (from -1 to 1; see <see cref="HoldForHorizon"/> for signals held K bars) is taken at the close of bar t and earns the next bar's return
/// r_t; changing position costs <c>costBps</c> basis points per unit traded. Sharpe is annualised with
/// <c>periodsPerYear</c> (252 for daily bars) from the per-period returns, without a risk-free rate.
/// </summary>
public static class Backtest
{
    public static BacktestResult Run(ReadOnlySpan<double> positions, ReadOnlySpan<double> nextReturns, double costBps, double periodsPerYear)
    {
        if (positions.Length != nextReturns.Length || positions.Length == 0)
        {
            throw new ArgumentException($"backtest: {positions.Length} positions for {nextReturns.Length} returns");
        }
        if (!(costBps >= 0) || !(periodsPerYear > 0))
        {
            throw new ArgumentException($"backtest: cost {costBps} bps must be 0 or more and periods per year {periodsPerYear} above 0");
        }
        int n = positions.Length;
        var returns = new double[n];
        var equity = new double[n];
        double value = 1, peak = 1, drawdown = 0, previous = 0, traded = 0;
        int active = 0, hits = 0;
        for (int t = 0; t < n; t++)
        {
            double p = positions[t];
            double change = Math.Abs(p - previous);
            traded += change;
            double r = p * nextReturns[t] - costBps / 10_000 * change;
            returns[t] = r;
            value *= 1 + r;
            equity[t] = value;
            peak = Math.Max(peak, value);
            drawdown = Math.Max(drawdown, 1 - value / peak);
            if (p != 0)
            {
                active++;
                hits += p * nextReturns[t] > 0 ? 1 : 0;
            }
            previous = p;
        }
        double mean = returns.Average();
        double sd = n > 1 ? Math.Sqrt(returns.Sum(r => (r - mean) * (r - mean)) / (n - 1)) : 0;
        return new BacktestResult(returns, equity, value - 1, sd > 0 ? mean / sd * Math.Sqrt(periodsPerYear) : double.NaN,
            drawdown, active == 0 ? double.NaN : (double)hits / active, traded / n);
    }

    /// <summary>
    /// Holds each signal for its horizon, the usual way for overlapping K-bar forecasts: the signal s decided at the
    /// close of bar b adds s/K to the position held over each of bars b+1..b+K, so the position over a bar is the
    /// mean of the last K signals (a bar without a signal adds 0). <paramref name="signalBars"/>[i], strictly
    /// increasing, is the bar of <paramref name="signals"/>[i]. The result covers bars signalBars[0] ..
    /// signalBars[^1] + K - 1, so every signal is held for all K bars: element j is the position taken at the close
    /// of bar signalBars[0] + j, which earns the next bar's return, as <see cref="Run"/> expects.
    /// </summary>
    public static double[] HoldForHorizon(ReadOnlySpan<double> signals, ReadOnlySpan<int> signalBars, int horizon)
    {
        if (signals.Length != signalBars.Length || signals.Length == 0)
        {
            throw new ArgumentException($"hold for horizon: {signals.Length} signals for {signalBars.Length} bars");
        }
        if (horizon < 1)
        {
            throw new ArgumentException($"hold for horizon: horizon {horizon} must be at least 1 bar");
        }
        int first = signalBars[0];
        var positions = new double[signalBars[^1] - first + horizon];
        for (int i = 0; i < signals.Length; i++)
        {
            if (i > 0 && signalBars[i] <= signalBars[i - 1])
            {
                throw new ArgumentException($"hold for horizon: signal {i}'s bar {signalBars[i]} does not come after bar {signalBars[i - 1]}");
            }
            double share = signals[i] / horizon;
            int start = signalBars[i] - first;
            for (int k = 0; k < horizon; k++)
            {
                positions[start + k] += share;
            }
        }
        return positions;
    }

    /// <summary>Always long: what buy and hold earns (it trades once, on the first bar).</summary>
    public static double[] AlwaysLong(int periods) => Enumerable.Repeat(1.0, periods).ToArray();

    /// <summary>Long after an up bar, short after a down bar, flat after an unchanged one: <paramref name="lastReturns"/>[t] is bar t's own return.</summary>
    public static double[] PreviousDirection(ReadOnlySpan<double> lastReturns)
    {
        var positions = new double[lastReturns.Length];
        for (int t = 0; t < positions.Length; t++)
        {
            positions[t] = Math.Sign(lastReturns[t]);
        }
        return positions;
    }
}
