using System.Net;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.LoadTest;

/// <summary>
/// The grid's gRPC API: Predict, or PredictBatch of <see cref="LoadTestSettings.Batch"/> assets, over HTTP/2
/// connections with <see cref="LoadTestSettings.Streams"/> calls in flight on each (like <c>h2load -c C -m M</c>):
/// one worker's own <see cref="GrpcH2Connection"/> when M is 1, a <see cref="GrpcH2SharedConnection"/> for each
/// M workers otherwise. <c>grpcs://</c> runs the same clients over TLS, offering only <c>h2</c> with ALPN. Seeding goes
/// through Grpc.Net.Client.
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
    private readonly int _streams;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, GrpcH2SharedConnection> _shared = new();

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
        _headerBlock = Http2Frames.HeaderBlock(Batch > 0 ? "/marketintel.v1.Grid/PredictBatch" : "/marketintel.v1.Grid/Predict", uri.Authority, settings.ApiKey, tls);
        Description = $"{target} ({(Batch > 0 ? $"gRPC PredictBatch of {Batch} assets" : "gRPC Predict")})";
    }

    public string Description { get; }

    public int Batch { get; }

    public ILoadConnection Connect(int worker) => worker < 0 || _streams == 1
        ? new GrpcH2Connection(_endPoint, _tls, _headerBlock, WriteRequest, Batch > 0)
        : _shared.GetOrAdd(worker / _streams, _ => new GrpcH2SharedConnection(_endPoint, _tls, _headerBlock, WriteRequest, Batch > 0)).Open();

    /// <summary>
    /// PredictRequest and PredictBatchRequest both carry the asset symbols as field 1 (a string; repeated in the
    /// batch), so both are written the same way: one asset, or <see cref="Batch"/> of them.
    /// </summary>
    private int WriteRequest(AssetPicker picker, Random random, Span<byte> destination)
    {
        int n = 0;
        for (int i = 0; i < Math.Max(1, Batch); i++)
        {
            byte[] name = _encodedNames[picker.Next(random)];
            if (n + 2 + 5 + name.Length > destination.Length)
            {
                return -1;
            }
            destination[n++] = 0x0A;   // field 1, length-delimited
            for (uint length = (uint)name.Length; ; length >>= 7)
            {
                if (length < 0x80)
                {
                    destination[n++] = (byte)length;
                    break;
                }
                destination[n++] = (byte)(length | 0x80);
            }
            name.CopyTo(destination[n..]);
            n += name.Length;
        }
        return n;
    }

    public async Task SeedAsync(int assets, Func<int, float[]> vector, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = GridChannel.Create(_target, _apiKey, _trustedCa);
        var client = new Grid.GridClient(channel);
        await Parallel.ForAsync(0, assets, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var request = new PushFeaturesRequest { Asset = _names[i] };
            request.Values.Add(vector(i));
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
        });
    }

    public void Dispose()
    {
        foreach (GrpcH2SharedConnection connection in _shared.Values)
        {
            connection.Dispose();
        }
    }
}
