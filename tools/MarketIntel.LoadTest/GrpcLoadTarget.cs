using System.Net;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.LoadTest;

/// <summary>
/// The grid's gRPC API: Predict, or PredictBatch of <see cref="LoadTestSettings.Batch"/> assets, over HTTP/2
/// connections with <see cref="LoadTestSettings.Streams"/> calls in flight on each (like <c>h2load -c C -m M</c>):
/// one <see cref="GrpcH2Connection"/> for each M workers (a worker's own when M is 1). <c>grpcs://</c> runs the same
/// client over TLS, offering only <c>h2</c> with ALPN. Seeding goes through Grpc.Net.Client.
/// </summary>
internal sealed class GrpcLoadTarget : ILoadTarget
{
    private readonly string _target;
    private readonly string? _apiKey;
    private readonly string? _trustedCa;
    private readonly LoadTls? _tls;
    private readonly string[] _names;
    private readonly byte[][] _encodedNames;
    private readonly EndPoint _endPoint;
    private readonly byte[] _headerBlock;
    private readonly uint _assetTag;
    private readonly int _streams;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, GrpcH2Connection> _connections = new();
    private int _ownConnections;

    public GrpcLoadTarget(string target, LoadTestSettings settings)
    {
        bool tls = target.StartsWith("grpcs://", StringComparison.OrdinalIgnoreCase);
        string scheme = tls ? "grpcs" : "grpc";
        string rest = target[(scheme.Length + 3)..].TrimEnd('/');
        if (!Uri.TryCreate((tls ? "https://" : "http://") + rest, UriKind.Absolute, out Uri? uri) || uri.AbsolutePath != "/"
            || !rest.EndsWith(":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal))
        {
            throw new UsageException($"--target '{target}' must look like {scheme}://HOST:PORT");
        }
        _target = $"{scheme}://{uri.Authority}";
        _apiKey = settings.ApiKey;
        _trustedCa = settings.TrustedCa;
        _tls = tls ? new LoadTls(uri.IdnHost, System.Net.Security.SslApplicationProtocol.Http2, settings.TrustedCa) : null;
        Batch = settings.Batch;
        _streams = settings.Streams;
        _names = new string[settings.Assets];
        _encodedNames = new byte[settings.Assets][];
        for (int i = 0; i < _names.Length; i++)
        {
            _names[i] = settings.AssetName(i);
            _encodedNames[i] = Encoding.UTF8.GetBytes(_names[i]);
        }
        _endPoint = HttpLoadTarget.Resolve(uri);
        // The method's path and the request's field from the generated code, so that a change to the .proto breaks
        // the build here rather than the requests: the asset symbol of a PredictRequest, or the repeated asset
        // symbols of a PredictBatchRequest, each a length-delimited string.
        _headerBlock = Http2Frames.HeaderBlock(Batch > 0 ? MethodPath(nameof(Grid.GridClient.PredictBatch)) : MethodPath(nameof(Grid.GridClient.Predict)),
            uri.Authority, settings.ApiKey, tls);
        _assetTag = WireFormat.MakeTag(Batch > 0 ? PredictBatchRequest.AssetsFieldNumber : PredictRequest.AssetFieldNumber, WireFormat.WireType.LengthDelimited);
        Description = $"{target} ({(Batch > 0 ? $"gRPC PredictBatch of {Batch} assets" : "gRPC Predict")})";
    }

    public string Description { get; }

    public int Batch { get; }

    /// <summary>Workers 0..M-1 share connection 0, M..2M-1 connection 1, and so on; a connection of its own (worker -1) gets a key below 0.</summary>
    public ILoadConnection Connect(int worker) =>
        _connections.GetOrAdd(worker < 0 ? Interlocked.Decrement(ref _ownConnections) : worker / _streams,
            _ => new GrpcH2Connection(_endPoint, _tls, _headerBlock, WriteRequest, Batch > 0)).Open();

    /// <summary><c>/marketintel.v1.Grid/METHOD</c>: the path a gRPC call of <paramref name="method"/> is sent to.</summary>
    internal static string MethodPath(string method) => $"/{Grid.Descriptor.FullName}/{method}";

    /// <summary>
    /// The request message, encoded by hand: the asset symbol of a PredictRequest, or <see cref="Batch"/> of them as
    /// the repeated field of a PredictBatchRequest, written the same way (a tag, a length, the UTF-8 symbol).
    /// </summary>
    internal int WriteRequest(AssetPicker picker, Random random, Span<byte> destination)
    {
        int n = 0;
        for (int i = 0; i < Math.Max(1, Batch); i++)
        {
            byte[] name = _encodedNames[picker.Next(random)];
            if (n + 5 + 5 + name.Length > destination.Length)
            {
                return -1;
            }
            n += WriteVarint(destination[n..], _assetTag);
            n += WriteVarint(destination[n..], (uint)name.Length);
            name.CopyTo(destination[n..]);
            n += name.Length;
        }
        return n;
    }

    private static int WriteVarint(Span<byte> destination, uint value)
    {
        int n = 0;
        for (; value >= 0x80; value >>= 7)
        {
            destination[n++] = (byte)(value | 0x80);
        }
        destination[n++] = (byte)value;
        return n;
    }

    public async Task SeedAsync(int assets, Func<int, float[]> vector, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = GridChannel.Create(_target, _apiKey, _trustedCa);
        var client = new Grid.GridClient(channel);
        // The first push alone, so the channel's HTTP/2 connection is up (and its stream limit known) before the
        // parallel ones: started together on a new channel, they can each open a connection of their own.
        await Push(client, 0, vector, cancellationToken);
        await Parallel.ForAsync(1, assets, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (i, ct) => await Push(client, i, vector, ct));
    }

    private async Task Push(Grid.GridClient client, int asset, Func<int, float[]> vector, CancellationToken ct)
    {
        var request = new PushFeaturesRequest { Asset = _names[asset] };
        request.Values.Add(vector(asset));
        try
        {
            await client.PushFeaturesAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct);
        }
        catch (RpcException) when (ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }
        catch (RpcException e)
        {
            string reason = LoadTls.SeedingFailure(e, _trustedCa) is { } tlsFailure ? tlsFailure : $"{e.StatusCode}: {e.Status.Detail}";
            throw new LoadTestException($"seeding: PushFeatures({request.Asset}) to {_target} failed: {reason}");
        }
    }

    public void Dispose()
    {
        foreach (GrpcH2Connection connection in _connections.Values)
        {
            connection.Dispose();
        }
    }
}
