using System.Globalization;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Models;

/// <summary>What the promotion gate asks of a challenger (configuration section <c>Grid:Promotion</c>).</summary>
public sealed class PromotionGateOptions
{
    /// <summary>The configuration section a host binds these options from.</summary>
    public const string Section = "Grid:Promotion";

    /// <summary>
    /// The fewest paired outcomes (both versions scored on the same asset and bar) the gate decides on. The tests'
    /// p-values come from large-sample theory (Diebold-Mariano) or are exact but weak on few pairs (McNemar);
    /// 500 is a few days of hourly bars on a handful of assets.
    /// </summary>
    public long MinPairs { get; set; } = 500;

    /// <summary>The significance level: the one-sided Diebold-Mariano p-value must be below it, and a McNemar p-value below it in the champion's favour vetoes.</summary>
    public double Alpha { get; set; } = 0.05;

    /// <summary>
    /// The least relative improvement in mean loss, <c>mean(loss(champion) - loss(challenger)) / mean loss(champion)</c>
    /// (0.01 = 1%). 0 leaves the decision to the significance test; a floor keeps a large sample from promoting a
    /// difference too small to be worth the swap.
    /// </summary>
    public double MinImprovement { get; set; }

    /// <summary>
    /// How often the automatic promotion policy judges the shadows of every alias whose AutoPromote is set (and moves
    /// the alias to one that passes). Score totals lag the grains by Grid:Scoring:FlushInterval, so checking much more
    /// often than that finds nothing new.
    /// </summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Checks <see cref="PromotionGateOptions"/> at start, naming every setting at fault.</summary>
public sealed class PromotionGateOptionsValidator : IValidateOptions<PromotionGateOptions>
{
    public ValidateOptionsResult Validate(string? name, PromotionGateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        // The Diebold-Mariano test needs more pairs than the horizon and at least 2 (its t has n - 1 degrees of freedom).
        if (options.MinPairs < 2)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{PromotionGateOptions.Section}:MinPairs {options.MinPairs} must be at least 2"));
        }
        if (!(options.Alpha > 0 && options.Alpha <= 0.5))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{PromotionGateOptions.Section}:Alpha {options.Alpha} must be above 0 and at most 0.5"));
        }
        if (!(options.MinImprovement >= 0 && options.MinImprovement < 1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{PromotionGateOptions.Section}:MinImprovement {options.MinImprovement} must be at least 0 and below 1 (a share of the champion's mean loss)"));
        }
        if (options.CheckInterval < TimeSpan.FromMilliseconds(100) || options.CheckInterval > TimeSpan.FromDays(1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{PromotionGateOptions.Section}:CheckInterval {options.CheckInterval} must be between 00:00:00.100 and 1.00:00:00"));
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
