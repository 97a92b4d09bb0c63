using MarketIntel.CommandLine;
using MarketIntel.GpuBench;

// The GPU figures of issue 25, one section each, every one checked against the CPU path before it is timed:
//   MarketIntel.GpuBench --device cuda|cpu [--sections inference,drift,training] [--rows N] [--assets N] [--features N]
//     [--rounds N] [--depth N]          (--rows and --features size both the section that reads them; rounds and depth: training)
// benchmarks/gpu/run.sh publishes it self-contained and runs it. A new section is a class with Run(BenchContext) added
// to Sections below.
try
{
    var options = CliArguments.Parse(args, ["device", "sections", "rows", "assets", "features", "rounds", "depth"]);
    var context = BenchContext.Open(options);
    using (context)
    {
        var sections = new Dictionary<string, Func<BenchContext, bool>>(StringComparer.Ordinal)
        {
            ["inference"] = InferenceSection.Run,
            ["drift"] = DriftSection.Run,
            ["training"] = TrainingSection.Run,
        };
        string[] chosen = (options.Optional("sections") ?? string.Join(',', sections.Keys)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (string name in chosen)
        {
            if (!sections.ContainsKey(name))
            {
                throw new UsageException($"option '--sections': '{name}' is not a section ({string.Join(", ", sections.Keys)})");
            }
        }
        bool ok = true;
        foreach (string name in chosen)
        {
            ok &= sections[name](context);
        }
        return ok ? 0 : 1;
    }
}
catch (UsageException e)
{
    Console.Error.WriteLine($"gpu-bench: {e.Message}");
    return 2;
}
