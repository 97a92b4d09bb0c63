using System.Globalization;
using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;
using MarketIntel.Inference;
using MarketIntel.Training.Drift;

namespace MarketIntel.Tests;

/// <summary>
/// What the drift tests share: random walks of closes (one-minute bars, a volatility and a seed each), a direction model
/// of one stump per feature on stationary features (returns over one and two bars), its reference profile built from a
/// walk's batch features and predictions, and the lineage JSON that carries the profile to the registry.
/// </summary>
internal static class DriftSeries
{
    /// <summary>The model's inputs: returns, so that an unchanged walk keeps their distribution and a more volatile one widens it.</summary>
    public static readonly string[] Features = ["roc_1", "roc_2"];

    private static readonly DateTimeOffset Start = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary><paramref name="count"/> one-minute bars of a walk with log-return standard deviation <paramref name="sigma"/>.</summary>
    public static BarSeries Walk(int seed, int count, double sigma) => Walk(seed, count, _ => sigma);

    /// <summary><paramref name="count"/> one-minute bars of a walk whose bar i has log-return standard deviation <paramref name="sigma"/>(i).</summary>
    public static BarSeries Walk(int seed, int count, Func<int, double> sigma)
    {
        var random = new Random(seed);
        var timestamps = new string[count];
        double[] open = new double[count], high = new double[count], low = new double[count], close = new double[count], volume = new double[count];
        double price = 100;
        for (int i = 0; i < count; i++)
        {
            // Box-Muller: a standard normal from two uniforms.
            double z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            open[i] = price;
            price *= Math.Exp(sigma(i) * z);
            close[i] = price;
            high[i] = Math.Max(open[i], close[i]) * 1.001;
            low[i] = Math.Min(open[i], close[i]) * 0.999;
            volume[i] = 1000;
            timestamps[i] = Start.AddMinutes(i).ToString("O", CultureInfo.InvariantCulture);
        }
        return new BarSeries(timestamps, open, high, low, close, volume);
    }

    /// <summary>Bars <paramref name="from"/> to <paramref name="from"/> + <paramref name="count"/> of a walk, as the grain takes them.</summary>
    public static BarData[] Bars(BarSeries walk, int from, int count) => SeriesBars.Of(walk, from, count);

    /// <summary>The model: each return's stump says up above 0, with leaves that differ per feature.</summary>
    public static byte[] Model(out Model model) =>
        HandModels.Stumps(Features, [0f, 0f], [(-0.4f, 0.5f), (-0.3f, 0.2f)], out model);

    /// <summary>The model's inputs (one array per feature, as floats) and predictions on every row of <paramref name="walk"/>, from the batch features.</summary>
    public static (float[][] Columns, float[] Predictions) Rows(BarSeries walk)
    {
        double[][] computed = FeatureSet.Parse(string.Join(',', Features)).Compute(walk);
        float[][] columns = [.. computed.Select(c => c.Select(v => (float)v).ToArray())];
        using Model model = LoadModel();
        var predictions = new float[walk.Count];
        var inputs = new float[Features.Length];
        var output = new float[1];
        for (int row = 0; row < walk.Count; row++)
        {
            for (int f = 0; f < inputs.Length; f++)
            {
                inputs[f] = columns[f][row];
            }
            model.Predict(inputs, output);
            predictions[row] = output[0];
        }
        return (columns, predictions);
    }

    private static Model LoadModel()
    {
        Model(out Model model);
        return model;
    }

    /// <summary>The model's reference profile from every row of <paramref name="reference"/>.</summary>
    public static ReferenceProfile Profile(BarSeries reference)
    {
        var (columns, predictions) = Rows(reference);
        return ProfileBuilder.Build(Features, columns, predictions, "drift test walk");
    }

    /// <summary>
    /// The lineage of the model: its label (up after one bar), its features, validation metrics where given, and
    /// <paramref name="profile"/> (none when null).
    /// </summary>
    public static string Lineage(ReferenceProfile? profile, double? accuracy = null, double? logLoss = null)
    {
        var lineage = new JsonObject
        {
            ["label"] = new JsonObject { ["kind"] = "direction", ["horizon"] = 1 },
            ["features"] = new JsonArray([.. Features.Select(f => JsonValue.Create(f))]),
        };
        if (accuracy is not null || logLoss is not null)
        {
            lineage["validation"] = new JsonObject { ["accuracy"] = accuracy, ["logLoss"] = logLoss };
        }
        if (profile is not null)
        {
            lineage["profile"] = JsonNode.Parse(profile.ToJson());
        }
        return lineage.ToJsonString();
    }

    /// <summary>
    /// The window the grain should hold after the first <paramref name="bars"/> bars of <paramref name="walk"/>: each
    /// series' statistics over the last <paramref name="window"/> rows of the batch features, counted afresh.
    /// </summary>
    public static FeatureDrift[] Recount(ReferenceProfile profile, BarSeries walk, int bars, int window)
    {
        BarSeries head = new(walk.Timestamps[..bars], walk.Open[..bars], walk.High[..bars], walk.Low[..bars], walk.Close[..bars], walk.Volume[..bars]);
        var (columns, predictions) = Rows(head);
        float[][] series = [.. columns, predictions];
        FeatureReference[] references = [.. profile.Features, profile.Prediction!];
        int from = Math.Max(0, bars - window);
        return [.. references.Select((reference, s) =>
        {
            var counts = new int[reference.Bins];
            int missing = 0;
            for (int row = from; row < bars; row++)
            {
                int bin = reference.Bin(series[s][row]);
                if (bin < 0)
                {
                    missing++;
                }
                else
                {
                    counts[bin]++;
                }
            }
            return DriftStatistics.Compare(reference, counts, missing);
        })];
    }

    /// <summary>
    /// Whether two evaluations of the same counts agree: the same series, counts, degrees of freedom and flags, and
    /// statistics equal to 1e-9 relative (the batch scan's vector path rounds differently from Compare: DriftScan's remarks).
    /// </summary>
    public static bool Agree(IReadOnlyList<SeriesDrift> expected, IReadOnlyList<SeriesDrift> actual)
    {
        static bool Close(double a, double b) => a.Equals(b) || Math.Abs(a - b) <= 1e-9 * Math.Max(Math.Abs(a), Math.Abs(b));
        return expected.Count == actual.Count && expected.Zip(actual).All(p =>
            p.First.Name == p.Second.Name && p.First.Count == p.Second.Count && p.First.DegreesOfFreedom == p.Second.DegreesOfFreedom
            && p.First.Drifting == p.Second.Drifting && Close(p.First.MissingRate, p.Second.MissingRate) && Close(p.First.Psi, p.Second.Psi)
            && Close(p.First.JensenShannon, p.Second.JensenShannon) && Close(p.First.Wasserstein, p.Second.Wasserstein)
            && Close(p.First.ChiSquare, p.Second.ChiSquare) && Close(p.First.PValue, p.Second.PValue));
    }
}
