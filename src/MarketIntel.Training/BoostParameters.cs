using MarketIntel.Features;

namespace MarketIntel.Training;

/// <summary>Gradient boosting parameters, with XGBoost's names (in comments) and defaults.</summary>
public sealed record BoostParameters
{
    /// <summary><c>objective</c>: <c>binary:logistic</c> or <c>reg:squarederror</c>.</summary>
    public string Objective { get; init; } = "binary:logistic";

    /// <summary><c>max_depth</c>.</summary>
    public int MaxDepth { get; init; } = 6;

    /// <summary><c>eta</c>: the learning rate each leaf is scaled by.</summary>
    public double Eta { get; init; } = 0.3;

    /// <summary><c>num_boost_round</c>.</summary>
    public int Rounds { get; init; } = 100;

    /// <summary><c>min_child_weight</c>: the least hessian sum a child may have.</summary>
    public double MinChildWeight { get; init; } = 1;

    /// <summary><c>lambda</c>: L2 regularisation of leaf weights.</summary>
    public double Lambda { get; init; } = 1;

    /// <summary><c>alpha</c>: L1 regularisation of leaf weights.</summary>
    public double Alpha { get; init; }

    /// <summary><c>gamma</c> (<c>min_split_loss</c>): the least loss reduction a split must bring.</summary>
    public double Gamma { get; init; }

    /// <summary><c>subsample</c>: the share of rows each tree sees.</summary>
    public double Subsample { get; init; } = 1;

    /// <summary><c>colsample_bytree</c>: the share of features each tree may split on.</summary>
    public double ColsampleBytree { get; init; } = 1;

    /// <summary><c>max_bin</c>: the most histogram bins per feature.</summary>
    public int MaxBin { get; init; } = 256;

    /// <summary><c>seed</c>.</summary>
    public int Seed { get; init; }

    /// <summary><c>nthread</c>; 0 for every core.</summary>
    public int Threads { get; init; }

    public bool IsBinary => Objective == "binary:logistic";

    /// <summary>The objective that fits a label: <c>binary:logistic</c> for a direction, <c>reg:squarederror</c> for a log return.</summary>
    public static string ObjectiveFor(LabelKind kind) => kind == LabelKind.Direction ? "binary:logistic" : "reg:squarederror";

    /// <summary>
    /// What <c>backtest</c> and a retraining job train with unless told otherwise: shallow trees (depth 3) and a slow
    /// learning rate (eta 0.1) over 100 rounds, since market labels are mostly noise and deep, fast trees fit it.
    /// </summary>
    public static BoostParameters ForLabel(LabelKind kind) => new() { Objective = ObjectiveFor(kind), MaxDepth = 3, Eta = 0.1, Rounds = 100 };

    /// <summary>Checks every parameter, naming the first that is out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }
        Check(Objective is "binary:logistic" or "reg:squarederror", $"objective '{Objective}' is not binary:logistic or reg:squarederror");
        Check(MaxDepth is >= 1 and <= 16, $"max_depth {MaxDepth} must be from 1 to 16");
        Check(Eta > 0 && Eta <= 1, $"eta {Eta} must be above 0 and at most 1");
        Check(Rounds is >= 1 and <= 100_000, $"rounds {Rounds} must be from 1 to 100000");
        Check(MinChildWeight >= 0 && double.IsFinite(MinChildWeight), $"min_child_weight {MinChildWeight} must be 0 or more");
        Check(Lambda >= 0 && double.IsFinite(Lambda), $"lambda {Lambda} must be 0 or more");
        Check(Alpha >= 0 && double.IsFinite(Alpha), $"alpha {Alpha} must be 0 or more");
        Check(Gamma >= 0 && double.IsFinite(Gamma), $"gamma {Gamma} must be 0 or more");
        Check(Subsample > 0 && Subsample <= 1, $"subsample {Subsample} must be above 0 and at most 1");
        Check(ColsampleBytree > 0 && ColsampleBytree <= 1, $"colsample_bytree {ColsampleBytree} must be above 0 and at most 1");
        Check(MaxBin is >= 2 and <= 65_535, $"max_bin {MaxBin} must be from 2 to 65535");
        Check(Threads >= 0, $"threads {Threads} must be 0 (every core) or more");
    }
}
