using System.Net.Http;
using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;

namespace MarketIntel.Cli.LoadTest;

/// <summary>
/// The grid's gRPC API: Predict, or PredictBatch of <see cref="LoadTestSettings.Batch"/> assets. Each connection is
/// its own channel and HTTP/2 connection with one call in flight (like <c>h2load -c C -m 1</c>).
/// </summary>
internal sealed class GrpcLoadTarget : ILoadTarget
{
    private readonly Uri _address;
    private readonly string[] _names;

    public GrpcLoadTarget(string target, LoadTestSettings settings)
    {
        if (!Uri.TryCreate("http://" + target["grpc://".Length..], UriKind.Absolute, out Uri? uri) || uri.AbsolutePath != "/" || uri.IsDefaultPort)
        {
            throw new UsageException($"--target '{target}' must look like grpc://HOST:PORT");
        }
        _address = uri;
        Batch = settings.Batch;
        _names = new string[settings.Assets];
        for (int i = 0; i < _names.Length; i++)
        {
            _names[i] = settings.AssetName(i);
        }
        Description = $"{target} ({(Batch > 0 ? $"gRPC PredictBatch of {Batch} assets" : "gRPC Predict")})";
    }

    public string Description { get; }

    public int Batch { get; }

    public ILoadConnection Connect() => new GrpcLoadConnection(this, NewChannel());

    internal GrpcChannel NewChannel() => GrpcChannel.ForAddress(_address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = false,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        },
        MaxReceiveMessageSize = 64 << 20,
    });

    internal string Name(int index) => _names[index];

    public async Task SeedAsync(int assets, Func<int, float[]> vector, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = NewChannel();
        var client = new Grid.GridClient(channel);
        await Parallel.ForAsync(0, assets, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var request = new PushFeaturesRequest { Asset = _names[i] };
            request.Values.Add(vector(i));
            try
            {
                await client.PushFeaturesAsync(request, cancellationToken: ct);
            }
            catch (RpcException e)
            {
                throw new LoadTestException($"seeding: PushFeatures({request.Asset}) to {_address.Authority} failed: {e.StatusCode}: {e.Status.Detail}");
            }
        });
    }

    public void Dispose()
    {
    }
}

internal sealed class GrpcLoadConnection(GrpcLoadTarget target, GrpcChannel channel) : ILoadConnection
{
    private readonly Grid.GridClient _client = new(channel);

    public async ValueTask<Outcome> SendAsync(AssetPicker picker, Random random, CancellationToken cancellationToken)
    {
        try
        {
            if (target.Batch == 0)
            {
                await _client.PredictAsync(new PredictRequest { Asset = target.Name(picker.Next(random)) }, cancellationToken: cancellationToken);
                return Outcome.Ok(1);
            }
            var request = new PredictBatchRequest();
            for (int i = 0; i < target.Batch; i++)
            {
                request.Assets.Add(target.Name(picker.Next(random)));
            }
            PredictBatchReply reply = await _client.PredictBatchAsync(request, cancellationToken: cancellationToken);
            int ok = 0;
            string? failure = null;
            foreach (var result in reply.Results)
            {
                if (string.IsNullOrEmpty(result.ErrorCode))
                {
                    ok++;
                }
                else
                {
                    failure ??= "batch result " + result.ErrorCode;
                }
            }
            return failure is null ? Outcome.Ok(ok) : new Outcome(true, failure, ok);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            return Outcome.Failed("timeout");
        }
        catch (RpcException e)
        {
            // Unavailable is the transport failing (nothing listening, connection lost): no answer came.
            return e.StatusCode == StatusCode.Unavailable ? Outcome.Failed("gRPC Unavailable") : Outcome.Refused("gRPC " + e.StatusCode);
        }
    }

    public ValueTask DisposeAsync()
    {
        channel.Dispose();
        return ValueTask.CompletedTask;
    }
}
