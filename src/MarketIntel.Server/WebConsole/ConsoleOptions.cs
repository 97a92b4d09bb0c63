using Microsoft.Extensions.Options;

namespace MarketIntel.Server.WebConsole;

/// <summary>What the web console shows beyond the grid's own data (configuration section <c>MarketIntel:Console</c>).</summary>
public sealed class ConsoleOptions
{
    public const string Section = "MarketIntel:Console";

    /// <summary>
    /// The folder whose subfolders are the backtest reports the reports page lists (each written by
    /// <c>marketintel backtest --report DIR</c>); unset, the page says how to set it. Must exist at start.
    /// </summary>
    public string? ReportsDirectory { get; set; }
}

/// <summary>Checks <see cref="ConsoleOptions"/> at start, naming the setting at fault.</summary>
public sealed class ConsoleOptionsValidator : IValidateOptions<ConsoleOptions>
{
    public ValidateOptionsResult Validate(string? name, ConsoleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.ReportsDirectory switch
        {
            null => ValidateOptionsResult.Success,
            { } folder when !Directory.Exists(folder) =>
                ValidateOptionsResult.Fail($"{ConsoleOptions.Section}:{nameof(ConsoleOptions.ReportsDirectory)} '{folder}' is not an existing folder"),
            _ => ValidateOptionsResult.Success,
        };
    }
}
