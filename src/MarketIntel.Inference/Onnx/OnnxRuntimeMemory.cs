using Microsoft.ML.OnnxRuntime;

namespace MarketIntel.Inference.Onnx;

/// <summary>
/// The memory ONNX Runtime may use for running models, in this process, all models together: one arena
/// (ONNX Runtime's BFC arena with a <c>max_mem</c>) registered with ONNX Runtime's environment, which every
/// session of ours uses instead of an arena of its own. A run that asks for more than is left fails, with
/// ONNX Runtime's "Available memory of ... is smaller than requested bytes of ..."; while loading, that is a
/// refusal. An ONNX model of a few hundred bytes can ask for any amount (an Expand, a ConstantOfShape, a
/// broadcast Add of two small tensors), so no check of the graph can bound it; only the allocator can.
///
/// It is process-wide because ONNX Runtime's environment is: the budget is fixed when the first ONNX model
/// loads, and <see cref="Configure"/> must come before that. What it does not cover is in docs/inference.md:
/// a model's weights count against it without being held to it, and allocations outside the arena.
/// </summary>
public static class OnnxRuntimeMemory
{
    /// <summary>The budget unless configured: 1 GiB.</summary>
    public const long DefaultBudgetBytes = 1L << 30;

    private static readonly Lock Gate = new();
    private static long s_budget = DefaultBudgetBytes;
    private static bool s_registered;

    /// <summary>The budget, in bytes.</summary>
    public static long BudgetBytes
    {
        get
        {
            lock (Gate)
            {
                return s_budget;
            }
        }
    }

    /// <summary>
    /// Sets the budget: at least 1 MiB, below 4 GiB (ONNX Runtime's arena counts in 32 bits). Once an ONNX model
    /// has loaded, the arena exists and only the same figure is accepted.
    /// </summary>
    public static void Configure(long budgetBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budgetBytes, 1L << 20);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(budgetBytes, (long)uint.MaxValue);
        lock (Gate)
        {
            if (s_registered && budgetBytes != s_budget)
            {
                throw new InvalidOperationException($"ONNX Runtime's memory budget is already {ModelLimits.Count(s_budget)} bytes: it is fixed when the first ONNX model loads");
            }
            s_budget = budgetBytes;
        }
    }

    /// <summary>The budget in the words of a refusal: "1,024 MiB".</summary>
    internal static string Describe() => $"{ModelLimits.Count(BudgetBytes >> 20)} MiB";

    /// <summary>Registers the arena with ONNX Runtime's environment, once; sessions reach it through <c>session.use_env_allocators</c>.</summary>
    internal static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (s_registered)
            {
                return;
            }
            using var memory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.ArenaAllocator, 0, OrtMemType.Default);
            // Grow by what is asked (kSameAsRequested = 1), not by doubling, so the budget is what runs can have;
            // -1: ONNX Runtime's defaults for the initial chunk and the waste allowed per chunk.
            using var arena = new OrtArenaCfg((uint)s_budget, 1, -1, -1);
            OrtEnv.Instance().CreateAndRegisterAllocator(memory, arena);
            s_registered = true;
        }
    }
}
