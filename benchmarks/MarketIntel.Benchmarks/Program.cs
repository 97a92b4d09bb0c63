using BenchmarkDotNet.Running;
using MarketIntel.CommandLine;

// dotnet run -c Release --project benchmarks/MarketIntel.Benchmarks -- --filter '*'
// dotnet run -c Release --project benchmarks/MarketIntel.Benchmarks -- grid-memory [--assets 5000] [--bars 1000] [--scored-shadows 3] [--parts] [--hold]
// dotnet run -c Release --project benchmarks/MarketIntel.Benchmarks -- train-speed [--rows 200000] [--csv FILE]
// dotnet run -c Release --project benchmarks/MarketIntel.Benchmarks -- cluster-ingest --targets grpc://H:P,... (benchmarks/cluster/run.sh)
// dotnet run -c Release --project benchmarks/MarketIntel.Benchmarks -- drift-scan --data DIR [--generate] (benchmarks/drift/run.sh)
// dotnet run -c Release --project benchmarks/MarketIntel.Benchmarks -- activation-replay --postgres CONN [--bars 1000000] (benchmarks/recovery/run.sh)
// The harnesses read their options with the marketintel command's parser: a bad one is named on one line, exit code 2.
try
{
    if (args.Length > 0 && args[0] == "train-speed")
    {
        return MarketIntel.Benchmarks.TrainSpeed.Run(args);
    }
    if (args.Length > 0 && args[0] == "cluster-ingest")
    {
        return await MarketIntel.Benchmarks.ClusterIngest.Run(args);
    }
    if (args.Length > 0 && args[0] == "activation-replay")
    {
        return await MarketIntel.Benchmarks.ActivationReplay.Run(args);
    }
    if (args.Length > 0 && args[0] == "drift-scan")
    {
        return MarketIntel.Benchmarks.DriftScanJob.Run(args);
    }
    if (args.Length > 0 && args[0] == "grid-memory")
    {
        return await MarketIntel.Benchmarks.GridMemory.Run(args);
    }
}
catch (UsageException e)
{
    Console.Error.WriteLine($"{args[0]}: {e.Message}");
    return 2;
}
BenchmarkSwitcher.FromAssembly(typeof(MarketIntel.Benchmarks.FeatureBenchmarks).Assembly).Run(args);
return 0;
