using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/MarketIntel.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(MarketIntel.Benchmarks.FeatureBenchmarks).Assembly).Run(args);
