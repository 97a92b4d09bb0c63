using MarketIntel.Cli;
using MarketIntel.Cli.Commands;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Abstractions;
using MarketIntel.Inference;
using MarketIntel.LoadTest;
using MarketIntel.Server.Hosting;

return Cli.Run(args, Console.Out, Console.Error);

namespace MarketIntel.Cli
{
    /// <summary>The <c>marketintel</c> command: dispatch, and one-line errors with exit code 2.</summary>
    internal static class Cli
    {
        public const int UsageOrInputError = 2;

        private static readonly string Help = string.Join('\n',
            "marketintel: the MarketIntel prediction grid",
            "",
            "commands:",
            "  " + DemoCommand.Usage + "   (the grid on embedded defaults, with the bundled data)",
            "  " + FeaturesCommand.Usage,
            "  " + PredictCommand.Usage,
            "  " + ServeCommand.Usage,
            "  " + IngestCommand.Usage,
            "  " + LoadTestCommand.Usage,
            "  " + TrainCommand.Usage,
            "  " + BacktestCommand.Usage,
            "  " + DbCommand.Usage,
            "  " + KeysCommand.Usage,
            "  " + ModelsCommand.Usage,
            "  " + ModelScoresCommand.Usage,
            "  " + DriftCommand.Usage,
            "  " + RetrainCommand.Usage,
            "",
            "feature names: " + string.Join(", ", FeatureDefinition.Grammar));

        private static string? CommandUsage(string command) => command switch
        {
            "demo" => DemoCommand.Usage,
            "features" => FeaturesCommand.Usage + "\n" + FeaturesCommand.Details,
            "predict" => PredictCommand.Usage + "\n" + PredictCommand.Details,
            "serve" => ServeCommand.Usage,
            "ingest" => IngestCommand.Usage,
            "loadtest" => LoadTestCommand.Usage + "\n(options: docs/loadtest.md)",
            "train" => TrainCommand.Usage + "\n" + TrainCommand.Details,
            "backtest" => BacktestCommand.Usage,
            "db" => DbCommand.Usage,
            "keys" => KeysCommand.Usage,
            "drift" => DriftCommand.Usage + "\n" + DriftCommand.Details,
            "retrain" => RetrainCommand.Usage + "\n" + RetrainCommand.Details,
            "models" => ModelsCommand.Usage + "\n" + ModelsCommand.Details + "\n  " + ModelScoresCommand.Usage,
            _ => null,
        };

        public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                stdout.WriteLine(Help);
                return args.Length == 0 ? UsageOrInputError : 0;
            }
            if (args.Length == 2 && args[1] is "-h" or "--help" && CommandUsage(args[0]) is { } usage)
            {
                stdout.WriteLine("usage: " + usage);
                return 0;
            }
            try
            {
                var rest = args.AsSpan(1);
                return args[0] switch
                {
                    "features" => FeaturesCommand.Run(rest, stdout),
                    "predict" => PredictCommand.Run(rest, stdout),
                    "demo" => DemoCommand.Run(rest, stdout),
                    "serve" => ServeCommand.Run(rest, stdout),
                    "ingest" => IngestCommand.Run(rest, stdout, stderr),
                    "loadtest" => LoadTestCommand.Run(rest, stdout, stderr),
                    "train" => TrainCommand.Run(rest, stdout, stderr),
                    "backtest" => BacktestCommand.Run(rest, stdout),
                    "db" => DbCommand.Run(rest, stdout),
                    "keys" => KeysCommand.Run(rest, stdout, stderr),
                    "drift" => DriftCommand.Run(rest, stdout),
                    // The progress bar only where a person watches stderr; a log or a pipe gets a line per change.
                    "retrain" => RetrainCommand.Run(rest, stdout, stderr, progressBar: ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected),
                    "models" => rest.Length > 0 && rest[0] == "scores" ? ModelScoresCommand.Run(rest[1..], stdout) : ModelsCommand.Run(rest, stdout),
                    _ => throw new UsageException($"unknown command '{args[0]}' (try 'marketintel --help')"),
                };
            }
            catch (Exception e) when (e is UsageException or FeatureSpecException or ModelFormatException or DataFormatException or IOException or UnauthorizedAccessException
                or ServerConfigurationException or IngestException or GridException or LoadTestException)
            {
                stderr.WriteLine($"marketintel {args[0]}: {e.Message}");
                return UsageOrInputError;
            }
        }
    }
}
