using System.Runtime.CompilerServices;
using MarketIntel.Inference.Onnx;

namespace MarketIntel.Inference.Tests;

/// <summary>
/// ONNX Runtime's memory budget for this test process: 256 MiB, set before any test loads a model (the budget is
/// fixed by the first ONNX load). Below ONNX Runtime's own 1 GiB cap on constant folding, so a test can tell a
/// node folded while loading (outside the budget) from one run inside it.
/// </summary>
internal static class OnnxTestBudget
{
    public const long Bytes = 256L << 20;

    // A module initializer is the one hook that runs before every test class of the assembly.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Configure() => OnnxRuntimeMemory.Configure(Bytes);
}
