namespace MarketIntel.Inference.Xgboost;

/// <summary>The objectives whose predictions we reproduce, and how each turns margins into outputs as XGBoost does.</summary>
internal enum XgboostObjective
{
    BinaryLogistic,
    BinaryLogitRaw,
    RegSquaredError,
    RegLogistic,
    MultiSoftprob,
    MultiSoftmax,
}

internal static class XgboostObjectives
{
    public static readonly string[] Supported =
        ["binary:logistic", "binary:logitraw", "reg:squarederror", "reg:logistic", "multi:softprob", "multi:softmax"];

    public static XgboostObjective? FromName(string name) => name switch
    {
        "binary:logistic" => XgboostObjective.BinaryLogistic,
        "binary:logitraw" => XgboostObjective.BinaryLogitRaw,
        // reg:linear is the name XGBoost used for reg:squarederror before 1.0.
        "reg:squarederror" or "reg:linear" => XgboostObjective.RegSquaredError,
        "reg:logistic" => XgboostObjective.RegLogistic,
        "multi:softprob" => XgboostObjective.MultiSoftprob,
        "multi:softmax" => XgboostObjective.MultiSoftmax,
        _ => null,
    };

    /// <summary>
    /// The margin the sums start from. XGBoost stores base_score in output space and converts it with the
    /// objective's ProbToMargin, in float: the logit for binary:logistic and reg:logistic, unchanged for the
    /// others (binary:logitraw included: its base_score is already a margin; the fixtures confirm it).
    /// </summary>
    public static float BaseMargin(XgboostObjective objective, float baseScore) => objective switch
    {
        XgboostObjective.BinaryLogistic or XgboostObjective.RegLogistic =>
            -MathF.Log((1.0f / baseScore) - 1.0f),
        _ => baseScore,
    };

    /// <summary>Outputs per row: 1, or the class count for multi:softprob.</summary>
    public static int OutputCount(XgboostObjective objective, int classes) =>
        objective == XgboostObjective.MultiSoftprob ? classes : 1;

    /// <summary>Turns one row's margins (one per class) into its outputs.</summary>
    public static void Transform(XgboostObjective objective, ReadOnlySpan<float> margins, Span<float> output)
    {
        switch (objective)
        {
            case XgboostObjective.BinaryLogistic or XgboostObjective.RegLogistic:
                output[0] = Sigmoid(margins[0]);
                break;
            case XgboostObjective.MultiSoftprob:
                Softmax(margins, output);
                break;
            case XgboostObjective.MultiSoftmax:
                output[0] = ArgMax(margins);
                break;
            default:
                output[0] = margins[0];
                break;
        }
    }

    public static float Sigmoid(float margin) => 1.0f / (1.0f + MathF.Exp(-margin));

    // As XGBoost: subtract the largest margin, exponentiate in float, sum in double.
    private static void Softmax(ReadOnlySpan<float> margins, Span<float> output)
    {
        float max = margins[0];
        for (int k = 1; k < margins.Length; k++)
        {
            max = MathF.Max(max, margins[k]);
        }
        double sum = 0;
        for (int k = 0; k < margins.Length; k++)
        {
            output[k] = MathF.Exp(margins[k] - max);
            sum += output[k];
        }
        for (int k = 0; k < margins.Length; k++)
        {
            output[k] /= (float)sum;
        }
    }

    // The first class with the largest margin, as XGBoost's FindMaxIndex.
    private static float ArgMax(ReadOnlySpan<float> margins)
    {
        int best = 0;
        for (int k = 1; k < margins.Length; k++)
        {
            if (margins[k] > margins[best])
            {
                best = k;
            }
        }
        return best;
    }
}
