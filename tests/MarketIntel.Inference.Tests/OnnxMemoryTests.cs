using MarketIntel.Inference.Onnx;

namespace MarketIntel.Inference.Tests;

/// <summary>ONNX Runtime runs our models inside one memory budget for the process, and a model that asks for more is refused.</summary>
public sealed class OnnxMemoryTests
{
    [Fact]
    public void A_model_asking_for_more_than_the_budget_is_refused_naming_it()
    {
        // 512 MiB of ones from a constant shape. Folded while loading, as ONNX Runtime does by default, it would
        // be made outside the budget and the model would load; run, the 256 MiB arena refuses it.
        var e = Assert.Throws<ModelFormatException>(() => Model.Load(OnnxModelCheckTests.Hostile("memory-bomb"), "m.onnx"));
        Assert.StartsWith(
            "m.onnx: running it on 1 row(s) of zeros needed more memory than ONNX Runtime may use (256 MiB for all models): Non-zero status code returned while running ConstantOfShape node.",
            e.Message, StringComparison.Ordinal);
        Assert.Contains("is smaller than requested bytes of 536870912", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_whose_output_would_not_fit_is_refused_even_under_a_width_limit_that_allows_it()
    {
        // 2,000,000 values a row pass this limit; 4096 rows of them (32 GB) do not pass the memory budget.
        var limits = ModelLimits.Default with { MaxOutputWidth = 2_000_000 };
        var e = Assert.Throws<ModelFormatException>(() => Model.Load(OnnxModelCheckTests.Hostile("huge-output"), "m.onnx", limits));
        Assert.StartsWith("m.onnx: running it on 4096 row(s) of zeros needed more memory than ONNX Runtime may use", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Models_still_load_and_predict_after_one_was_refused_for_memory()
    {
        Assert.Throws<ModelFormatException>(() => Model.Load(OnnxModelCheckTests.Hostile("memory-bomb"), "m.onnx"));
        using Model model = Fixtures.Load("onnx-mlp-8");
        var output = new float[1];
        model.Predict(new float[8], output);
        Assert.InRange(output[0], 0f, 1f);
    }

    [Fact]
    public void The_budget_is_fixed_by_the_first_load_and_only_the_same_figure_is_accepted_after()
    {
        using (Fixtures.Load("onnx-mlp-8"))
        {
        }
        Assert.Equal(OnnxTestBudget.Bytes, OnnxRuntimeMemory.BudgetBytes);
        OnnxRuntimeMemory.Configure(OnnxTestBudget.Bytes);
        var e = Assert.Throws<InvalidOperationException>(() => OnnxRuntimeMemory.Configure(512L << 20));
        Assert.Equal("ONNX Runtime's memory budget is already 268,435,456 bytes: it is fixed when the first ONNX model loads", e.Message);
    }

    [Fact]
    public void The_default_budget_is_one_GiB_and_a_budget_must_fit_onnx_runtimes_32_bit_arena()
    {
        Assert.Equal(1L << 30, OnnxRuntimeMemory.DefaultBudgetBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxRuntimeMemory.Configure(1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxRuntimeMemory.Configure(4L << 30));
    }
}
