using MarketIntel.Training.Statistics;

namespace MarketIntel.Training.Tests;

/// <summary>Metrics, walk-forward splits and the backtest against values worked out by hand or exactly elsewhere.</summary>
public sealed class EvaluationTests
{
    [Theory]
    // Exact tails from Python's fractions: sum of comb(n, i) p^i (1-p)^(n-i) for i >= k.
    [InlineData(8, 10, 0.5, 0.0546875)]
    [InlineData(60, 100, 0.5, 0.028443966820490395)]
    [InlineData(530, 1000, 0.53, 0.5128877602720674)]
    [InlineData(5300, 10000, 0.52, 0.023183367580021565)]
    [InlineData(0, 10, 0.5, 1.0)]
    [InlineData(11, 10, 0.5, 0.0)]
    public void Binomial_upper_tails_are_exact(int k, int n, double p, double expected)
    {
        // Summed in log space from log-factorials: exact to about a billionth, relative.
        Assert.True(Math.Abs(Binomial.UpperTail(k, n, p) - expected) <= 1e-9 * Math.Max(expected, 1e-300), $"{Binomial.UpperTail(k, n, p):R} vs {expected:R}");
    }

    [Fact]
    public void Directional_accuracy_is_tested_against_chance_and_against_the_majority_class()
    {
        // 100 rows, 70 labelled up; a model right 72 times beats a coin clearly but the majority rate barely.
        var p = new double[100];
        var y = new float[100];
        for (int i = 0; i < 100; i++)
        {
            y[i] = i < 70 ? 1 : 0;
            bool right = i < 65 || i >= 93;   // 65 ups and 7 downs right: 72 hits
            p[i] = right == (y[i] == 1) ? 0.8 : 0.2;
        }
        DirectionalAccuracy d = Metrics.Direction(p, y);
        Assert.Equal(72, d.Correct);
        Assert.Equal(0.72, d.Accuracy, 12);
        Assert.Equal(0.70, d.MajorityRate, 12);
        Assert.Equal(Binomial.UpperTail(72, 100, 0.5), d.PValueVsHalf, 15);
        Assert.True(d.PValueVsHalf < 1e-5);
        Assert.True(d.PValueVsMajority > 0.3, $"{d.PValueVsMajority}");
    }

    [Fact]
    public void Auc_is_the_share_of_positive_negative_pairs_ordered_right_with_ties_counting_half()
    {
        Assert.Equal(0.75, Metrics.Auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 12);
        Assert.Equal(1.0, Metrics.Auc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]), 12);
        Assert.Equal(0.5, Metrics.Auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 12);
        // One tie between a positive and a negative: (3 pairs right + 0.5) / 4.
        Assert.Equal(0.875, Metrics.Auc([0.1, 0.3, 0.3, 0.9], [0, 0, 1, 1]), 12);
        Assert.True(double.IsNaN(Metrics.Auc([0.1, 0.2], [1, 1])));
    }

    [Fact]
    public void Log_loss_and_rmse()
    {
        Assert.Equal(-(Math.Log(0.8) + Math.Log(0.6)) / 2, Metrics.LogLoss([0.8, 0.4], [1, 0]), 12);
        Assert.Equal(Math.Sqrt((1 + 4) / 2.0), Metrics.Rmse([1, 3], [0, 1]), 12);
        Assert.Throws<ArgumentException>(() => Metrics.Rmse([1, 2], [1]));
    }

    [Fact]
    public void Walk_forward_folds_never_train_on_their_test_rows_or_on_labels_reaching_into_them()
    {
        var expanding = WalkForward.Folds(rows: 100, trainSize: 40, testSize: 25, rolling: false, horizon: 3);
        Assert.Equal([new Fold(0, 40, 42, 67), new Fold(0, 65, 67, 92), new Fold(0, 90, 92, 100)], expanding);
        var rolling = WalkForward.Folds(rows: 100, trainSize: 40, testSize: 25, rolling: true, horizon: 1);
        Assert.Equal([new Fold(0, 40, 40, 65), new Fold(25, 65, 65, 90), new Fold(50, 90, 90, 100)], rolling);
        foreach (Fold f in expanding.Concat(rolling))
        {
            Assert.True(f.TrainEnd <= f.TestStart);
        }
        Assert.Throws<ArgumentException>(() => WalkForward.Folds(rows: 40, trainSize: 40, testSize: 5, rolling: false));
    }

    [Fact]
    public void A_backtest_compounds_returns_after_costs_and_measures_drawdown_hits_and_turnover()
    {
        double[] returns = [0.10, -0.20, 0.05, 0.10];
        double[] positions = [1, 1, -1, 0];
        BacktestResult r = Backtest.Run(positions, returns, costBps: 10, periodsPerYear: 252);
        // Costs: 1 unit bought at first (10 bps), 2 units to turn short (20 bps), 1 unit to go flat (10 bps).
        double[] expected = [0.10 - 0.001, -0.20, -0.05 - 0.002, 0 - 0.001];
        Assert.Equal(expected, r.Returns, (a, b) => Math.Abs(a - b) < 1e-12);
        double equity = expected.Aggregate(1.0, (v, x) => v * (1 + x));
        Assert.Equal(equity - 1, r.CumulativeReturn, 12);
        // The peak after bar 0, then down 20%, down 5.2% and a little more.
        double peak = 1.099;
        Assert.Equal(1 - r.Equity[^1] / peak, r.MaxDrawdown, 12);
        Assert.Equal(1 / 3.0, r.HitRate, 12);       // of three periods in the market, only the first gained
        Assert.Equal(4 / 4.0, r.Turnover, 12);      // 1 + 0 + 2 + 1 units over 4 periods
        double mean = expected.Average();
        double sd = Math.Sqrt(expected.Sum(x => (x - mean) * (x - mean)) / 3);
        Assert.Equal(mean / sd * Math.Sqrt(252), r.Sharpe, 12);

        BacktestResult hold = Backtest.Run(Backtest.AlwaysLong(4), returns, costBps: 10, periodsPerYear: 252);
        Assert.Equal(1.1 * 0.8 * 1.05 * 1.1 * (1 - 0.001 / 1.1) - 1, hold.CumulativeReturn, 12);
        Assert.Equal([0, 1, -1, 1], Backtest.PreviousDirection([0, 0.2, -0.1, 0.3]));
    }

    [Fact]
    public void A_signal_held_for_its_horizon_adds_a_kth_of_itself_to_each_of_the_next_k_bars()
    {
        // Horizon 3; signals at the close of bars 10, 11, 12 and 14 (bar 13 has no row, so it adds nothing).
        double[] signals = [1, 1, -1, 1];
        int[] bars = [10, 11, 12, 14];
        double[] positions = Backtest.HoldForHorizon(signals, bars, horizon: 3);
        // By hand, position over bar b = (sum of the signals at bars b-2..b) / 3, for bars 10..16 (14 + 3 - 1).
        double[] expected = [1 / 3.0, 2 / 3.0, 1 / 3.0, 0, 0, 1 / 3.0, 1 / 3.0];
        Assert.Equal(expected, positions, (a, b) => Math.Abs(a - b) < 1e-15);

        // Traded at 10 bps on the change of the summed position: 1/3 in, up to 2/3, down to 1/3, out, in again.
        double[] returns = [0.01, 0.02, -0.03, 0.04, -0.01, 0.02, 0.01];
        BacktestResult r = Backtest.Run(positions, returns, costBps: 10, periodsPerYear: 252);
        double cost = 0.001 / 3;
        double[] expectedReturns = [0.01 / 3 - cost, 0.04 / 3 - cost, -0.01 - cost, -cost, 0, 0.02 / 3 - cost, 0.01 / 3];
        Assert.Equal(expectedReturns, r.Returns, (a, b) => Math.Abs(a - b) < 1e-15);
        Assert.Equal(expectedReturns.Aggregate(1.0, (v, x) => v * (1 + x)) - 1, r.CumulativeReturn, 14);
        Assert.Equal(5 / 3.0 / 7, r.Turnover, 14);
        Assert.Equal(4 / 5.0, r.HitRate, 14);   // in the market on 5 bars; only bar 12 (long into a 3% fall) lost

        // Horizon 1 is the next-bar backtest: positions are the signals themselves.
        Assert.Equal([1, -1, 0, 1], Backtest.HoldForHorizon([1, -1, 0, 1], [0, 1, 2, 3], horizon: 1));
    }

    [Fact]
    public void A_steady_rise_traded_with_a_k_bar_long_signal_ramps_in_and_out_over_k_bars()
    {
        // Every bar rises 1% and every one of 10 signals says long for 4 bars: 1/4, 2/4, 3/4, then fully long until
        // the last signal, then 3/4, 2/4, 1/4. Total exposure is one unit-bar per signal: 10 bars' worth of 1%.
        double[] positions = Backtest.HoldForHorizon(Enumerable.Repeat(1.0, 10).ToArray(), Enumerable.Range(0, 10).ToArray(), horizon: 4);
        Assert.Equal([0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25], positions);
        BacktestResult r = Backtest.Run(positions, Enumerable.Repeat(0.01, positions.Length).ToArray(), costBps: 0, periodsPerYear: 252);
        double byHand = 1.0025 * 1.005 * 1.0075 * Math.Pow(1.01, 7) * 1.0075 * 1.005 * 1.0025 - 1;
        Assert.Equal(byHand, r.CumulativeReturn, 14);
        // One unit in, a quarter at a time, and three quarters out: the last quarter is still held when the run ends.
        Assert.Equal(1.75 / 13, r.Turnover, 14);
    }

    [Theory]
    [InlineData(new[] { 1.0, 1.0 }, new[] { 3, 3 }, 2, "signal 1's bar 3 does not come after bar 3")]
    [InlineData(new[] { 1.0 }, new[] { 3, 4 }, 2, "1 signals for 2 bars")]
    [InlineData(new[] { 1.0 }, new[] { 3 }, 0, "horizon 0 must be at least 1 bar")]
    public void Holding_refuses_signals_that_do_not_line_up_with_their_bars(double[] signals, int[] bars, int horizon, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Backtest.HoldForHorizon(signals, bars, horizon));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
