using System.Text;

namespace MarketIntel.Inference.Onnx;

/// <summary>
/// Reads an ONNX model's protobuf (onnx.proto's ModelProto) before ONNX Runtime sees it, and refuses what must
/// not reach ONNX Runtime from a client:
/// <list type="bullet">
/// <item>a tensor whose data is external (<c>data_location</c> EXTERNAL or any <c>external_data</c> entry): ONNX
/// Runtime would read that file on the server, relative to its working directory, and the model could hand the
/// bytes back as its output. Every TensorProto is checked, wherever it sits: graph initializers, the tensors of
/// node attributes (Constant's value among them), sparse tensors' values and indices, and all of these inside
/// subgraphs (If, Loop, Scan bodies), model-local functions and training graphs;</item>
/// <item>sparse tensors: ONNX Runtime expands them to dense while loading, into memory no budget covers
/// (a 114-byte model asked for 900 MB);</item>
/// <item>more nodes than <see cref="ModelLimits.MaxOnnxNodes"/>, messages nested deeper than
/// <see cref="MaxNesting"/>, and malformed protobuf.</item>
/// </list>
/// Only the messages that can hold a tensor, a graph or a node are entered; everything else is skipped by its
/// wire type. The walk recurses once per nested message, so <see cref="MaxNesting"/> bounds the stack.
/// Field numbers are those of onnx.proto (IR version 11).
/// </summary>
internal sealed class OnnxModelCheck
{
    /// <summary>How deep messages may nest: each subgraph costs three levels (graph, node, attribute).</summary>
    public const int MaxNesting = 64;

    private readonly string _source;
    private readonly ModelLimits _limits;
    private int _nodes;

    private OnnxModelCheck(string source, ModelLimits limits)
    {
        _source = source;
        _limits = limits;
    }

    /// <summary>Checks a ModelProto; throws <see cref="ModelFormatException"/> on the first thing it refuses.</summary>
    public static void Run(ReadOnlySpan<byte> model, string source, ModelLimits limits)
    {
        var check = new OnnxModelCheck(source, limits);
        check.Model(new ProtoReader(model, source));
    }

    // ModelProto: graph = 7, training_info = 20, functions = 25.
    private void Model(ProtoReader model)
    {
        while (!model.End)
        {
            var (field, type) = model.ReadTag();
            switch (field)
            {
                case 7:
                    Graph(model.ReadMessage(field, type), new Place(null, "graph"), 1);
                    break;
                case 20:
                    TrainingInfo(model.ReadMessage(field, type), new Place(null, "training_info"), 1);
                    break;
                case 25:
                    Function(model.ReadMessage(field, type), 1);
                    break;
                default:
                    model.Skip(field, type);
                    break;
            }
        }
    }

    // TrainingInfoProto: initialization = 1, algorithm = 2 (graphs).
    private void TrainingInfo(ProtoReader info, Place place, int depth)
    {
        Enter(depth, place);
        while (!info.End)
        {
            var (field, type) = info.ReadTag();
            if (field is 1 or 2)
            {
                Graph(info.ReadMessage(field, type), place.Then(field == 1 ? "initialization" : "algorithm"), depth + 1);
            }
            else
            {
                info.Skip(field, type);
            }
        }
    }

    // GraphProto: node = 1, name = 2, initializer = 5, sparse_initializer = 15.
    private void Graph(ProtoReader graph, Place place, int depth)
    {
        Enter(depth, place);
        place = place.Named(graph.FindString(2));
        int nodes = 0;
        while (!graph.End)
        {
            var (field, type) = graph.ReadTag();
            switch (field)
            {
                case 1:
                    Node(graph.ReadMessage(field, type), place, nodes++, depth + 1);
                    break;
                case 5:
                    Tensor(graph.ReadMessage(field, type), place, "initializer", depth + 1);
                    break;
                case 15:
                    Sparse(graph.ReadMessage(field, type), place, "sparse_initializer", depth + 1);
                    break;
                default:
                    graph.Skip(field, type);
                    break;
            }
        }
    }

    // FunctionProto: name = 1, node = 7, attribute_proto = 11 (attributes with default values).
    private void Function(ProtoReader function, int depth)
    {
        var place = new Place(null, "function").Named(function.FindString(1));
        Enter(depth, place);
        int nodes = 0;
        while (!function.End)
        {
            var (field, type) = function.ReadTag();
            switch (field)
            {
                case 7:
                    Node(function.ReadMessage(field, type), place, nodes++, depth + 1);
                    break;
                case 11:
                    Attribute(function.ReadMessage(field, type), place, depth + 1);
                    break;
                default:
                    function.Skip(field, type);
                    break;
            }
        }
    }

    // NodeProto: name = 3, op_type = 4, attribute = 5.
    private void Node(ProtoReader node, Place graph, int index, int depth)
    {
        if (++_nodes > _limits.MaxOnnxNodes)
        {
            throw Refused($"more than {ModelLimits.Count(_limits.MaxOnnxNodes)} nodes in all graphs, subgraphs and functions, over the limit on an ONNX model's nodes");
        }
        string? name = node.FindString(3);
        string op = Printable(node.FindString(4) ?? "?");
        var place = string.IsNullOrEmpty(name)
            ? graph.Then($"node #{index} ({op})")
            : graph.Then($"node '{Printable(name)}' ({op})");
        Enter(depth, place);
        while (!node.End)
        {
            var (field, type) = node.ReadTag();
            if (field == 5)
            {
                Attribute(node.ReadMessage(field, type), place, depth + 1);
            }
            else
            {
                node.Skip(field, type);
            }
        }
    }

    // AttributeProto: name = 1, t = 5, g = 6, tensors = 10, graphs = 11, sparse_tensor = 22, sparse_tensors = 23.
    private void Attribute(ProtoReader attribute, Place node, int depth)
    {
        var place = node.Then($"attribute '{Printable(attribute.FindString(1) ?? "?")}'");
        Enter(depth, place);
        while (!attribute.End)
        {
            var (field, type) = attribute.ReadTag();
            switch (field)
            {
                case 5 or 10:
                    Tensor(attribute.ReadMessage(field, type), place, "tensor", depth + 1);
                    break;
                case 6 or 11:
                    Graph(attribute.ReadMessage(field, type), place.Then("graph"), depth + 1);
                    break;
                case 22 or 23:
                    Sparse(attribute.ReadMessage(field, type), place, "sparse tensor", depth + 1);
                    break;
                default:
                    attribute.Skip(field, type);
                    break;
            }
        }
    }

    // SparseTensorProto: values = 1, indices = 2 (tensors). Their data is checked first, so a sparse tensor
    // with external data is refused for that, the graver reason.
    private void Sparse(ProtoReader sparse, Place parent, string kind, int depth)
    {
        Enter(depth, parent);
        string? name = null;
        while (!sparse.End)
        {
            var (field, type) = sparse.ReadTag();
            if (field is 1 or 2)
            {
                ProtoReader tensor = sparse.ReadMessage(field, type);
                name ??= field == 1 ? tensor.FindString(8) : null;
                Tensor(tensor, parent, field == 1 ? $"{kind} values" : $"{kind} indices", depth + 1);
            }
            else
            {
                sparse.Skip(field, type);
            }
        }
        throw Refused($"{parent}: {kind} '{Printable(name ?? "")}' is sparse, which is refused: ONNX Runtime expands a sparse tensor to dense while loading, outside any memory budget");
    }

    // TensorProto: name = 8, external_data = 13 (key/value entries), data_location = 14 (EXTERNAL = 1).
    private void Tensor(ProtoReader tensor, Place parent, string kind, int depth)
    {
        Enter(depth, parent);
        string name = Printable(tensor.FindString(8) ?? "");
        bool external = false;
        while (!tensor.End)
        {
            var (field, type) = tensor.ReadTag();
            switch (field)
            {
                case 13:
                    tensor.ReadBytes(field, type);
                    external = true;
                    break;
                case 14:
                    // Anything but DEFAULT (0) is refused, values this reader does not know included.
                    external |= tensor.ReadVarint(field, type) != 0;
                    break;
                default:
                    tensor.Skip(field, type);
                    break;
            }
        }
        if (external)
        {
            throw Refused($"{parent}: {kind} '{name}' keeps its data in an external file, which is refused: a model must carry its data inside it and never read files on the server");
        }
    }

    private void Enter(int depth, Place place)
    {
        if (depth > MaxNesting)
        {
            throw Refused($"{place}: messages nest more than {MaxNesting} deep");
        }
    }

    private ModelFormatException Refused(string problem) => new(_source, problem);

    /// <summary>A name from the model as messages show it: at most 64 characters, control characters replaced.</summary>
    private static string Printable(string name)
    {
        var text = new StringBuilder(Math.Min(name.Length, 65));
        foreach (char c in name.Length > 64 ? name[..64] : name)
        {
            text.Append(char.IsControl(c) ? '?' : c);
        }
        return name.Length > 64 ? text.Append('…').ToString() : text.ToString();
    }

    /// <summary>Where in the model a message sits, for messages: "graph 'main' > node 'if' (If) > attribute 'then_branch' > graph".</summary>
    private sealed class Place(Place? parent, string step)
    {
        public Place Then(string next) => new(this, next);

        /// <summary>This step with the message's name, when it has one.</summary>
        public Place Named(string? name) => string.IsNullOrEmpty(name) ? this : new Place(parent, $"{step} '{Printable(name)}'");

        public override string ToString() => parent is null ? step : $"{parent} > {step}";
    }
}
