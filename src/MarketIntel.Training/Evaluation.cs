using MarketIntel.Features;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Training;

/// <summary>Directional accuracy with its significance: how often the predicted direction was right, and how likely chance is.</summary>
/// <param name="Correct">Rows whose predicted direction (p &gt; 0.5) matched the label.</param>
/// <param name="Rows">Rows scored.</param>
/// <param name="MajorityRate">The share of the more common label: what always predicting it would score.</param>
/// <param name="PValueVsHalf">One-sided binomial p-value of at least <paramref name="Correct"/> hits if each were a coin flip.</param>
/// <param name="PValueVsMajority">The same against hits at the majority rate: the bar a useful model must clear.</param>
public sealed record DirectionalAccuracy(int Correct, int Rows, double MajorityRate, double PValueVsHalf, double PValueVsMajority)
{
    public double Accuracy => Rows == 0 ? double.NaN : (double)Correct / Rows;
}

/// <summary>Scores for predictions against labels.</summary>
public static class Metrics
{
    /// <summary>Mean negative log-likelihood of binary labels under predicted probabilities (clipped to [1e-15, 1 - 1e-15]).</summary>
    public static double LogLoss(ReadOnlySpan<double> probability, ReadOnlySpan<float> label)
    {
        Same(probability.Length, label.Length);
        double sum = 0;
        for (int i = 0; i < label.Length; i++)
        {
            double p = Math.Clamp(probability[i], 1e-15, 1 - 1e-15);
            sum -= label[i] * Math.Log(p) + (1 - label[i]) * Math.Log(1 - p);
        }
        return sum / label.Length;
    }

    public static double Rmse(ReadOnlySpan<double> prediction, ReadOnlySpan<float> target)
    {
        Same(prediction.Length, target.Length);
        double sum = 0;
        for (int i = 0; i < target.Length; i++)
        {
            double d = prediction[i] - target[i];
            sum += d * d;
        }
        return Math.Sqrt(sum / target.Length);
    }

    /// <summary>Area under the ROC curve: the chance a random positive scores above a random negative (ties count half).</summary>
    public static double Auc(ReadOnlySpan<double> score, ReadOnlySpan<float> label)
    {
        Same(score.Length, label.Length);
        int n = score.Length;
        int[] order = Enumerable.Range(0, n).ToArray();
        double[] s = score.ToArray();
        Array.Sort(s, order);
        double positives = 0, rankSum = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && s[j + 1] == s[i])
            {
                j++;
            }
            double averageRank = (i + j) / 2.0 + 1;   // tied scores share their ranks' mean
            for (int k = i; k <= j; k++)
            {
                if (label[order[k]] == 1)
                {
                    positives++;
                    rankSum += averageRank;
                }
            }
            i = j + 1;
        }
        double negatives = n - positives;
        return positives == 0 || negatives == 0 ? double.NaN : (rankSum - positives * (positives + 1) / 2) / (positives * negatives);
    }

    /// <summary>Hits of the predicted direction (probability above 0.5 means up) against 0/1 labels, with binomial p-values.</summary>
    public static DirectionalAccuracy Direction(ReadOnlySpan<double> probability, ReadOnlySpan<float> label)
    {
        Same(probability.Length, label.Length);
        int n = label.Length, correct = 0, ones = 0;
        for (int i = 0; i < n; i++)
        {
            bool up = probability[i] > 0.5;
            correct += up == (label[i] == 1) ? 1 : 0;
            ones += label[i] == 1 ? 1 : 0;
        }
        double majority = n == 0 ? double.NaN : Math.Max(ones, n - ones) / (double)n;
        return new DirectionalAccuracy(correct, n, majority, Binomial.UpperTail(correct, n, 0.5), n == 0 ? double.NaN : Binomial.UpperTail(correct, n, majority));
    }

    private static void Same(int a, int b)
    {
        if (a != b)
        {
            throw new ArgumentException($"{a} predictions for {b} labels");
        }
        if (a == 0)
        {
            throw new ArgumentException("nothing to score");
        }
    }
}

/// <summary>One walk-forward step: train on rows [TrainStart, TrainEnd), test on the rows right after, [TestStart, TestEnd).</summary>
public sealed record Fold(int TrainStart, int TrainEnd, int TestStart, int TestEnd);

/// <summary>
/// Walk-forward splits of time-ordered rows: every test window lies after its training window, so no fold sees
/// its future. Expanding windows train on everything before the test window; rolling windows on the last
/// <c>trainSize</c> rows only. A gap of <c>horizon - 1</c> rows between them keeps labels that look k bars ahead
/// from reaching into the test window.
/// </summary>
public static class WalkForward
{
    public static IReadOnlyList<Fold> Folds(int rows, int trainSize, int testSize, bool rolling, int horizon = 1)
    {
        if (trainSize < 1 || testSize < 1 || horizon < 1)
        {
            throw new ArgumentException($"walk-forward: train size {trainSize}, test size {testSize} and horizon {horizon} must all be at least 1");
        }
        int gap = horizon - 1;
        var folds = new List<Fold>();
        for (int testStart = trainSize + gap; testStart < rows; testStart += testSize)
        {
            int trainEnd = testStart - gap;
            folds.Add(new Fold(rolling ? trainEnd - trainSize : 0, trainEnd, testStart, Math.Min(rows, testStart + testSize)));
        }
        if (folds.Count == 0)
        {
            throw new ArgumentException($"walk-forward: {rows} rows leave no test window after {trainSize} training rows and a gap of {gap}");
        }
        return folds;
    }

    /// <summary>
    /// The validation scores of a walk-forward's test predictions, by the names lineages give them: for a direction
    /// label <c>accuracy</c>, <c>auc</c> and <c>logLoss</c> of the probabilities, for a log return <c>rmse</c>; then
    /// <c>testRows</c> and <c>folds</c>.
    /// </summary>
    public static IReadOnlyDictionary<string, double> Scores(ReadOnlySpan<double> predictions, ReadOnlySpan<float> labels, int folds, LabelKind kind)
    {
        var scores = new Dictionary<string, double>();
        if (kind == LabelKind.Direction)
        {
            scores["accuracy"] = Metrics.Direction(predictions, labels).Accuracy;
            scores["auc"] = Metrics.Auc(predictions, labels);
            scores["logLoss"] = Metrics.LogLoss(predictions, labels);
        }
        else
        {
            scores["rmse"] = Metrics.Rmse(predictions, labels);
        }
        scores["testRows"] = labels.Length;
        scores["folds"] = folds;
        return scores;
    }
}
