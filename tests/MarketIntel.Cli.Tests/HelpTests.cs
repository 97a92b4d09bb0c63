using System.Text.RegularExpressions;

namespace MarketIntel.Cli.Tests;

/// <summary>Each command's <c>--help</c> lists every option the command parses.</summary>
public sealed partial class HelpTests : CliTestBase
{
    // Each command, with the verb that selects its options where it has verbs.
    public static TheoryData<string[]> Commands() => new()
    {
        { ["demo"] },
        { ["features"] },
        { ["predict"] },
        { ["serve"] },
        { ["ingest"] },
        { ["loadtest"] },
        { ["train"] },
        { ["backtest"] },
        { ["db", "migrate"] },
        { ["db", "status"] },
        { ["db", "predictions"] },
        { ["keys", "create"] },
        { ["keys", "list"] },
        { ["keys", "revoke"] },
        { ["models", "scores"] },
        { ["drift"] },
        { ["retrain", "NAME"] },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_lists_every_option_the_command_parses(string[] command)
    {
        // An unknown option makes the parser name every option the command takes: the list it really parses.
        var (code, _, err) = Run([.. command, "--no-such-option"]);
        Assert.Equal(2, code);
        var taken = TakenOptions().Match(err);
        Assert.True(taken.Success, err);
        string[] options = taken.Groups[1].Value.Split(", ");
        Assert.NotEmpty(options);

        var (helpCode, help, _) = Run(command[0], "--help");
        Assert.Equal(0, helpCode);
        var listed = HelpOption().Matches(help).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
        // Compared as text so a failure names the options the help leaves out.
        Assert.Equal("", string.Join(' ', options.Where(o => !listed.Contains(o))));
    }

    [GeneratedRegex(@"\(this command takes ([^)]*)\)")]
    private static partial Regex TakenOptions();

    [GeneratedRegex(@"--[a-z][a-z0-9-]*")]
    private static partial Regex HelpOption();
}
