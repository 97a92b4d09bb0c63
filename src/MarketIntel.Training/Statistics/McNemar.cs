namespace MarketIntel.Training.Statistics;

/// <summary>
/// The exact McNemar test of two classifiers scored on the same cases (McNemar 1947; the exact form is the
/// binomial test on the discordant pairs, Edwards 1948): under the null that both are equally often right, each of
/// the <c>b + c</c> cases where exactly one was right is equally likely to be either's.
/// </summary>
/// <param name="FirstOnly">Cases only the first classifier got right (<c>b</c>).</param>
/// <param name="SecondOnly">Cases only the second got right (<c>c</c>).</param>
/// <param name="PValue">Two-sided exact p-value, <c>binomtest(c, b + c, 0.5)</c>; 1 when no case is discordant.</param>
public sealed record McNemarTest(long FirstOnly, long SecondOnly, double PValue)
{
    /// <summary>Whether no case is discordant, so the test has nothing to say.</summary>
    public bool Untestable => FirstOnly + SecondOnly == 0;

    /// <summary>The test on the discordant counts <paramref name="firstOnly"/> (b) and <paramref name="secondOnly"/> (c).</summary>
    public static McNemarTest Exact(long firstOnly, long secondOnly)
    {
        if (firstOnly < 0 || secondOnly < 0)
        {
            throw new ArgumentOutOfRangeException(firstOnly < 0 ? nameof(firstOnly) : nameof(secondOnly),
                $"McNemar's discordant counts must not be negative (b = {firstOnly}, c = {secondOnly})");
        }
        long discordant = checked(firstOnly + secondOnly);
        return new McNemarTest(firstOnly, secondOnly, discordant == 0 ? 1 : Binomial.TwoSidedPValue(secondOnly, discordant, 0.5));
    }
}
