using MarketIntel.Features.Io;
using MarketIntel.Tests;

namespace MarketIntel.Features.Tests;

/// <summary>
/// Every committed TTR reference (tests/fixtures/ttr, made by make_ttr_fixtures.sh) against the batch form.
/// A cell agrees when both are empty or |ours - ttr| &lt;= 1e-9 * max(1, |ttr|). Any other cell must be one of the
/// documented degenerate cases, each proven from the input data by <see cref="DegenerateCases"/>; and such cells
/// must stay rare (under 1% of the cells of real data; the synthetic flat-window fixture is made of them), so an
/// explanation can never hide a systematic error.
/// </summary>
public sealed class TtrReferenceTests
{
    public static TheoryData<string, string, string?, int> Fixtures => new()
    {
        { "ttrc-std", "ttrc-daily.csv", null, 1 },
        { "ttrc-alt", "ttrc-daily.csv", null, 1 },
        { "ttrc-odd", "ttrc-daily.csv", null, 1 },
        { "ttrc-close-std", "ttrc-daily.csv", "close", 1 },
        { "msft-std", "msft-daily.csv", null, 1 },
        { "msft-alt", "msft-daily.csv", null, 1 },
        { "msft-close-alt", "msft-daily.csv", "close", 1 },
        { "usdchf-std", "usdchf-30m.csv", null, 1 },
        { "usdchf-odd", "usdchf-30m.csv", null, 1 },
        { "dax-std", "eustockmarkets-daily.csv", "DAX", 1 },
        { "ftse-alt", "eustockmarkets-daily.csv", "FTSE", 1 },
        { "flat-ohlcv", "fixture:flat-ohlcv.csv", null, 10 },
    };

    internal static BarSeries LoadBars(string input, string? close) =>
        input.StartsWith("fixture:", StringComparison.Ordinal)
            ? BarCsv.Read(RepoPaths.Fixture(input["fixture:".Length..]), close)
            : BarCsv.Read(RepoPaths.Data(input), close);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Every_cell_matches_TTR_or_is_a_proven_degenerate_case(string fixture, string input, string? close, int maxExplainedPercent)
    {
        var bars = LoadBars(input, close);
        var reference = ReferenceTable.Load(RepoPaths.Fixture("ttr", fixture + ".csv.gz"));
        Assert.InRange(reference.Rows[^1], bars.Count - 24, bars.Count); // the reference reaches the end of the series
        var failures = new List<string>();
        int cells = 0, explained = 0;
        for (int f = 0; f < reference.Names.Length; f++)
        {
            string name = reference.Names[f];
            var definition = FeatureDefinition.Parse(name);
            double[] ours = definition.Compute(bars);
            for (int i = 0; i < reference.Rows.Length; i++)
            {
                int row = reference.Rows[i] - 1;
                Assert.Equal(reference.Timestamps[i], bars.Timestamps[row]);
                double ttr = reference.Values[f][i];
                cells++;
                if (Agrees(ours[row], ttr))
                {
                    continue;
                }
                if (DegenerateCases.Explain(definition, bars, row, ours[row], ttr) is not null)
                {
                    explained++;
                    continue;
                }
                failures.Add($"{name} row {row + 1} ({bars.Timestamps[row]}): TTR {ttr:R}, ours {ours[row]:R}");
            }
        }
        Assert.True(failures.Count == 0, $"{fixture}: {failures.Count} cells disagree:\n" + string.Join("\n", failures.Take(25)));
        Assert.True(explained * 100 < cells * maxExplainedPercent, $"{fixture}: {explained} of {cells} cells needed a degenerate-case explanation");
    }

    internal static bool Agrees(double ours, double ttr)
    {
        if (double.IsNaN(ours) || double.IsNaN(ttr))
        {
            return double.IsNaN(ours) && double.IsNaN(ttr);
        }
        return Math.Abs(ours - ttr) <= 1e-9 * Math.Max(1, Math.Abs(ttr));
    }
}
