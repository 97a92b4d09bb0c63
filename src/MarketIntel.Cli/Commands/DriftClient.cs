using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The drift calls <c>marketintel drift</c> makes, in the gRPC service's messages whichever way they travel, so that
/// the command prints (and reports) the same over <c>grpc[s]://</c> and <c>http[s]://</c>. A failure is one line
/// naming the target (a <see cref="Abstractions.GridException"/> or an <see cref="IOException"/>).
/// </summary>
internal interface IDriftClient : IDisposable
{
    /// <summary>
    /// The cluster-wide summary per model version of <paramref name="name"/> (empty: every model) and, when
    /// <paramref name="scan"/> is set, every stored window evaluated with its series' bin edges and counts.
    /// </summary>
    Task<(DriftSummary Summary, List<AssetDrift> Scan)> ReadAsync(string name, bool scan);
}

/// <summary>The drift client for a command line's <c>--target</c>: HTTP/JSON or gRPC, as its scheme says.</summary>
internal static class DriftClient
{
    public static IDriftClient For(string target, CliArguments options) =>
        GridHttp.Client<IDriftClient>(target, options, http => new HttpDriftClient(http), channel => new GrpcDriftClient(target, channel));
}

/// <summary>Drift over the gRPC service <c>Drift</c>: <c>GetSummary</c>, then the <c>Scan</c> stream with counts.</summary>
internal sealed class GrpcDriftClient(string target, GrpcChannel channel) : IDriftClient
{
    private readonly Drift.DriftClient _client = new(channel);

    public async Task<(DriftSummary Summary, List<AssetDrift> Scan)> ReadAsync(string name, bool scan)
    {
        DriftSummary summary = await GrpcCalls.Unary(target, _client.GetSummaryAsync(new GetDriftSummaryRequest { Name = name }));
        var assets = new List<AssetDrift>();
        if (scan)
        {
            try
            {
                using var call = _client.Scan(new DriftScanRequest { Name = name, WithCounts = true });
                await foreach (AssetDrift asset in call.ResponseStream.ReadAllAsync())
                {
                    assets.Add(asset);
                }
            }
            catch (RpcException e)
            {
                throw GrpcCalls.Failure(target, e);
            }
        }
        return (summary, assets);
    }

    public void Dispose() => channel.Dispose();
}
