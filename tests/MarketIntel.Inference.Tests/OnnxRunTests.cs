using System.Diagnostics;
using MarketIntel.Inference.Onnx;

namespace MarketIntel.Inference.Tests;

/// <summary>
/// Loading an ONNX model runs it on rows of zeros under a time budget and checks what comes out; ONNX Runtime's
/// failures become refusals with its source paths taken out.
/// </summary>
public sealed class OnnxRunTests
{
    private static ModelFormatException Refused(string fixture, ModelLimits? limits = null) =>
        Assert.Throws<ModelFormatException>(() => Model.Load(OnnxModelCheckTests.Hostile(fixture), "m.onnx", limits));

    [Fact]
    public void A_loop_that_would_run_for_ever_is_stopped_at_the_budget_and_refused_naming_it()
    {
        var clock = Stopwatch.StartNew();
        var e = Refused("loop-bomb");
        Assert.Equal("m.onnx: running it on 1 row(s) of zeros took longer than the 2 s budget for a run while loading, so it was stopped", e.Message);
        // Against a 2 s budget; generous for a loaded machine.
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void The_budget_is_a_limit_the_caller_sets()
    {
        var e = Refused("loop-bomb", ModelLimits.Default with { OnnxRunBudget = TimeSpan.FromMilliseconds(250) });
        Assert.EndsWith("took longer than the 250 ms budget for a run while loading, so it was stopped", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_output_declared_wider_than_the_limit_is_refused_without_running_it()
    {
        var e = Refused("huge-output-declared");
        Assert.Equal("m.onnx: output 'y' declares 100,000,000 values a row, over the limit of 1,024", e.Message);
    }

    [Fact]
    public void An_output_that_turns_out_wider_than_the_limit_is_refused()
    {
        Assert.Equal("m.onnx: output 'y' gives 2,000,000 values a row, over the limit of 1,024", Refused("huge-output").Message);
        // Under a limit that allows the width, the batch probe needs more memory than ONNX Runtime may have: OnnxMemoryTests.
    }

    [Fact]
    public void A_model_that_answers_one_row_whatever_it_is_given_is_refused()
    {
        Assert.Equal("m.onnx: output 'y' has shape [1, 2] for 4096 row(s); it must be one row of values per row", Refused("rows-ignored").Message);
    }

    [Fact]
    public void A_graph_onnx_runtime_cannot_load_is_a_format_error_in_onnx_runtimes_own_words_without_its_paths()
    {
        var e = Refused("malformed-graph");
        Assert.StartsWith("m.onnx: not a model XGBoost JSON or ONNX Runtime can load (", e.Message, StringComparison.Ordinal);
        Assert.Contains("Type parameter (T) of Optype (Add) bound to different types (tensor(float) and tensor(int64)", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ErrorCode", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_graph_that_fails_when_run_is_a_format_error_without_onnx_runtimes_source_paths()
    {
        var e = Refused("malformed-at-run");
        Assert.StartsWith("m.onnx: ONNX Runtime could not run it on 1 row(s) of zeros (Non-zero status code returned while running Reshape node.", e.Message, StringComparison.Ordinal);
        Assert.Contains("The input tensor cannot be reshaped to the requested shape", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("onnxruntime_src", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("reshape_helper.h", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("onnxruntime::", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_prediction_whose_output_grows_with_the_data_fails_and_writes_nothing()
    {
        // One value a row on zeros, so it loads with one output; ten a row once x[0, 0] > 0.
        using Model model = Model.Load(OnnxModelCheckTests.Hostile("data-driven-width"), "m.onnx");
        Assert.Equal(1, model.OutputCount);
        float[] output = [-1f, -2f, -3f];
        var e = Assert.Throws<InvalidOperationException>(() => model.Predict([1f, 0f], output.AsSpan(0, 1)));
        Assert.Equal("the ONNX model returned 10 values for 1 row(s) of 1 outputs", e.Message);
        Assert.Equal([-1f, -2f, -3f], output);
        model.Predict([0f, 0f], output.AsSpan(0, 1));
        Assert.Equal(0f, output[0]);
    }

    [Theory]
    [InlineData(
        "[ErrorCode:Fail] Non-zero status code returned while running Expand node. Name:'' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Available memory of 268434944 is smaller than requested bytes of 400000000",
        "Non-zero status code returned while running Expand node. Name:'' Status Message: Available memory of 268434944 is smaller than requested bytes of 400000000")]
    [InlineData(
        "[ErrorCode:Fail] Non-zero status code returned while running Reshape node. Name:'' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/tensor/reshape_helper.h:84 onnxruntime::ReshapeHelper::ReshapeHelper(const onnxruntime::TensorShape&, onnxruntime::TensorShapeVector&, bool) size != 0 && (input_shape_size % size) == 0 was false. The input tensor cannot be reshaped to the requested shape. Input shape:{1,2}, requested shape:{-1,3}\n",
        "Non-zero status code returned while running Reshape node. Name:'' Status Message: size != 0 && (input_shape_size % size) == 0 was false. The input tensor cannot be reshaped to the requested shape. Input shape:{1,2}, requested shape:{-1,3}")]
    [InlineData(
        "[ErrorCode:Fail] /onnxruntime_src/onnxruntime/core/graph/graph.cc:1377 onnxruntime::Graph::Graph(const onnxruntime::Model&, onnx::GraphProto*, const std::unordered_map<std::__cxx11::basic_string<char>, int>&, onnxruntime::Version, onnxruntime::IOnnxRuntimeOpSchemaCollectionPtr, onnxruntime::Graph*, const onnxruntime::Node*, const onnxruntime::logging::Logger&, bool) status.IsOK() was false. [ONNXRuntimeError] : 1 : FAIL : tensorprotoutils.cc:2680 SparseTensorProtoToDenseTensorProto Sparse tensor: sp dense data size of 40000000000 bytes exceeds the 2147483648 byte limit for embedded initializer data.",
        "status.IsOK() was false. SparseTensorProtoToDenseTensorProto Sparse tensor: sp dense data size of 40000000000 bytes exceeds the 2147483648 byte limit for embedded initializer data")]
    [InlineData(
        "[ErrorCode:Fail] Exception during initialization: /onnxruntime_src/onnxruntime/core/optimizer/initializer.cc:44 onnxruntime::Initializer::Initializer(const onnx::TensorProto&, const std::filesystem::__cxx11::path&) !model_path.empty() was false. model_path must not be empty. Ensure that a path is provided when the model is created or loaded.",
        "it refers to data outside the model, which is refused")]
    [InlineData(
        "[ErrorCode:Fail] External data path validation failed for initializer: w. Error: tensorprotoutils.cc:434 ValidateExternalDataPathFromDir Absolute path not allowed for external data location",
        "it refers to data outside the model, which is refused")]
    [InlineData(
        "[ErrorCode:NoSuchFile] Load model from /srv/models/m.onnx failed: file not found",
        "Load model from <path> failed: file not found")]
    public void Onnx_runtime_messages_lose_source_paths_signatures_and_file_talk(string message, string sanitized)
    {
        Assert.Equal(sanitized, OnnxErrors.Sanitize(message));
    }

    [Fact]
    public void A_very_long_message_is_cut_short()
    {
        string sanitized = OnnxErrors.Sanitize(new string('x', 5000));
        Assert.Equal(401, sanitized.Length);
        Assert.EndsWith("…", sanitized, StringComparison.Ordinal);
    }

    [Fact]
    public void A_message_quoting_a_megabyte_long_name_is_cut_before_the_patterns_run()
    {
        // ONNX Runtime quotes node names, and a client picks them; the patterns backtrack over runs of name
        // characters, so a megabyte of them would take hours if they saw it all.
        var clock = Stopwatch.StartNew();
        string sanitized = OnnxErrors.Sanitize("Node (" + new string('a', 1 << 20) + ".x) failed");
        Assert.Equal(401, sanitized.Length);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void The_grids_own_onnx_fixture_still_loads_with_one_output_a_row()
    {
        using Model model = Fixtures.Load("onnx-mlp-8");
        Assert.Equal(["prediction"], model.OutputNames);
    }
}
