using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using static MarketIntel.Inference.Tests.Proto;

namespace MarketIntel.Inference.Tests;

/// <summary>
/// An ONNX model is read before ONNX Runtime sees it, and one that names external data anywhere, holds a sparse
/// tensor, has too many nodes or is not well-formed protobuf is refused with a message saying where.
/// </summary>
public sealed class OnnxModelCheckTests
{
    private const string Refusal = "keeps its data in an external file, which is refused: a model must carry its data inside it and never read files on the server";

    internal static byte[] Hostile(string name) => File.ReadAllBytes(Fixtures.Hostile(name));

    private static ModelFormatException Refused(byte[] bytes, ModelLimits? limits = null) =>
        Assert.Throws<ModelFormatException>(() => Model.Load(bytes, "m.onnx", limits));

    [Theory]
    [InlineData("external-initializer", "graph 'exfil': initializer 'w'")]
    [InlineData("external-in-subgraph", "graph 'exfil' > node 'branch' (If) > attribute 'then_branch' > graph 'then': initializer 'w'")]
    [InlineData("external-constant", "graph 'exfil' > node 'secret' (Constant) > attribute 'value': tensor 'c'")]
    [InlineData("external-in-function", "function 'Leak' > node #0 (Constant) > attribute 'value': tensor 'f'")]
    [InlineData("external-sparse", "graph 'exfil': sparse_initializer values 's'")]
    public void A_tensor_with_external_data_is_refused_naming_the_tensor_and_where_it_sits(string fixture, string where)
    {
        Assert.Equal($"m.onnx: {where} {Refusal}", Refused(Hostile(fixture)).Message);
    }

    [Fact]
    public void Whether_the_named_file_exists_does_not_change_the_answer()
    {
        // secret.bin and no-such-file.bin: the same model otherwise, and ONNX Runtime never gets to look.
        Assert.Equal(Refused(Hostile("external-initializer")).Message, Refused(Hostile("external-missing-file")).Message);
    }

    [Fact]
    public void External_data_entries_without_the_location_flag_are_refused_too()
    {
        byte[] model = Model(Concat(String(2, "g"), Initializer(Tensor("w", ExternalData("location", "secret.bin")))));
        Assert.Equal($"m.onnx: graph 'g': initializer 'w' {Refusal}", Refused(model).Message);
    }

    [Theory]
    [InlineData(1ul)]
    [InlineData(2ul)]   // no such location today; refused rather than guessed
    public void A_data_location_other_than_default_is_refused_without_external_data_entries(ulong location)
    {
        byte[] model = Model(Concat(String(2, "g"), Initializer(Tensor("w", DataLocation(location)))));
        Assert.Equal($"m.onnx: graph 'g': initializer 'w' {Refusal}", Refused(model).Message);
    }

    [Fact]
    public void External_data_deep_in_nested_subgraphs_is_found()
    {
        byte[] graph = Concat(String(2, "leaf"), Initializer(Tensor("w", DataLocation(1))));
        for (int level = 0; level < 10; level++)
        {
            graph = Concat(String(2, $"g{level}"), Node("If", $"n{level}", GraphAttribute("then_branch", graph)));
        }
        var e = Refused(Model(graph));
        Assert.StartsWith("m.onnx: graph 'g9' > node 'n9' (If) > attribute 'then_branch' > graph 'g8' >", e.Message, StringComparison.Ordinal);
        Assert.EndsWith($"> graph 'leaf': initializer 'w' {Refusal}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Messages_nested_deeper_than_the_check_goes_are_refused()
    {
        // Each subgraph is three messages (graph, node, attribute): 30 of them pass 64 levels.
        byte[] graph = String(2, "leaf");
        for (int level = 0; level < 30; level++)
        {
            graph = Node("If", "n", GraphAttribute("then_branch", graph));
        }
        Assert.EndsWith(": messages nest more than 64 deep", Refused(Model(graph)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sparse_initializer_is_refused_before_onnx_runtime_expands_it()
    {
        // 161 bytes that ONNX Runtime would expand to 15,000 x 15,000 floats (900 MB) while loading.
        Assert.Equal(
            "m.onnx: graph 'sparse': sparse_initializer 'big' is sparse, which is refused: ONNX Runtime expands a sparse tensor to dense while loading, outside any memory budget",
            Refused(Hostile("sparse-initializer")).Message);
    }

    [Fact]
    public void More_nodes_than_the_limit_in_all_graphs_together_are_refused()
    {
        byte[] inner = Concat(Node("Relu", "a"), Node("Relu", "b"));
        byte[] model = Model(Concat(Node("Relu", "c"), Node("If", "d", GraphAttribute("then_branch", inner))));
        var e = Refused(model, ModelLimits.Default with { MaxOnnxNodes = 3 });
        Assert.Equal("m.onnx: more than 3 nodes in all graphs, subgraphs and functions, over the limit on an ONNX model's nodes", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x3A, 0x05, 0x0A }, "field 7 says it is 5 bytes long, but only 1 remain in its message, at byte 1")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF }, "a varint runs past the end of its message, at byte 1")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F }, "a varint is longer than 64 bits, at byte 1")]
    [InlineData(new byte[] { 0x0B }, "field 1 is a protobuf group, which ONNX does not use, at byte 0")]
    [InlineData(new byte[] { 0x0F }, "wire type 7 is not valid, at byte 0")]
    [InlineData(new byte[] { 0x00 }, "field number 0 is not valid, at byte 0")]
    [InlineData(new byte[] { 0x38, 0x01 }, "field 7 has wire type 0 where a length-delimited value belongs, at byte 1")]
    public void Malformed_protobuf_is_refused_naming_what_and_where(byte[] bytes, string problem)
    {
        Assert.Equal($"m.onnx: not a model XGBoost JSON or ONNX Runtime can load (the protobuf is malformed: {problem})", Refused(bytes).Message);
    }

    [Fact]
    public void A_data_location_written_as_anything_but_a_varint_is_malformed()
    {
        // data_location as a length-delimited field: protobuf would ignore it, the check refuses it.
        byte[] model = Model(Initializer(Concat(String(8, "w"), Message(14, [1]))));
        Assert.Contains("field 14 has wire type 2 where a varint belongs", Refused(model).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fixture_models_of_the_grid_pass_the_check_and_still_load()
    {
        using Model model = Fixtures.Load("onnx-mlp-8");
        Assert.Equal(8, model.FeatureCount);
    }
}

/// <summary>Tests that change the process's working directory, which no other test may see: run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WorkingDirectoryGroup
{
    public const string Name = "working directory";
}

/// <summary>
/// The attack itself: a model names secret.bin, a file in the server's working directory, as external data.
/// ONNX Runtime, as the grid used to call it, reads the file and the model's output is its bytes; the grid now
/// refuses the model and none of the file comes back.
/// </summary>
[Collection(WorkingDirectoryGroup.Name)]
public sealed class ExternalDataAttackTests : IDisposable
{
    private const string Secret = "TOPSECRET-password=hunter2-xxxxx";   // 32 bytes: the 8 floats each model reads
    private readonly string _previous = Environment.CurrentDirectory;
    private readonly string _directory = Directory.CreateTempSubdirectory("marketintel-secret-").FullName;

    public ExternalDataAttackTests()
    {
        File.WriteAllText(Path.Combine(_directory, "secret.bin"), Secret);
        Environment.CurrentDirectory = _directory;
    }

    public void Dispose()
    {
        Environment.CurrentDirectory = _previous;
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("external-initializer", GraphOptimizationLevel.ORT_DISABLE_ALL)]
    [InlineData("external-in-subgraph", GraphOptimizationLevel.ORT_ENABLE_ALL)]
    [InlineData("external-constant", GraphOptimizationLevel.ORT_ENABLE_ALL)]
    [InlineData("external-in-function", GraphOptimizationLevel.ORT_ENABLE_ALL)]
    public void Onnx_runtime_on_its_own_hands_the_file_back(string fixture, GraphOptimizationLevel level)
    {
        // Proof that each fixture is a real attack, so the refusal below is worth something. (With every
        // optimization on, ONNX Runtime happens to fail on a top-level initializer before reading it.)
        using var options = new SessionOptions { GraphOptimizationLevel = level };
        using var session = new InferenceSession(OnnxModelCheckTests.Hostile(fixture), options);
        using var input = OrtValue.CreateTensorValueFromMemory(new float[2], [1, 2]);
        using var output = session.Run(new RunOptions(), ["x"], [input], ["y"]);
        Assert.Equal(Secret, Encoding.ASCII.GetString(MemoryMarshal.AsBytes(output[0].GetTensorDataAsSpan<float>())));
    }

    [Theory]
    [InlineData("external-initializer")]
    [InlineData("external-in-subgraph")]
    [InlineData("external-constant")]
    [InlineData("external-in-function")]
    [InlineData("external-sparse")]
    public void The_grid_refuses_the_model_and_nothing_of_the_file_comes_back(string fixture)
    {
        var e = Assert.Throws<ModelFormatException>(() => Model.Load(OnnxModelCheckTests.Hostile(fixture), "m.onnx"));
        Assert.Contains("keeps its data in an external file", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("TOPS", e.ToString(), StringComparison.Ordinal);
    }
}
