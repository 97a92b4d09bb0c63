using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The retraining calls <c>marketintel retrain</c> makes, in the gRPC service's messages whichever way they travel, so
/// that the command prints the same over <c>grpc[s]://</c> and <c>http[s]://</c>. A failure is one line naming the
/// target (a <see cref="Abstractions.GridException"/> or an <see cref="IOException"/>).
/// </summary>
internal interface IRetrainClient : IDisposable
{
    /// <summary>Asks for a job; a start the debounce held back is an answer (<c>started</c> false), not an error.</summary>
    Task<RetrainStartReply> StartAsync(StartRetrainRequest request);

    Task<RetrainJobList> ListAsync(ListRetrainJobsRequest request);

    Task<RetrainJob> GetAsync(RetrainJobRequest request);

    Task<RetrainJob> CancelAsync(RetrainJobRequest request);

    /// <summary>The job's record now and on every change until it is final (<see cref="RetrainClient.IsFinal"/>).</summary>
    IAsyncEnumerable<RetrainJob> WatchAsync(RetrainJobRequest request, CancellationToken cancellationToken);
}

/// <summary>The retraining client for a command line's <c>--target</c>: HTTP/JSON or gRPC, as its scheme says.</summary>
internal static class RetrainClient
{
    public static IRetrainClient For(string target, CliArguments options) =>
        GridHttp.Client<IRetrainClient>(target, options, http => new HttpRetrainClient(http), channel => new GrpcRetrainClient(target, channel));

    /// <summary>Whether a job's state is final: it changes no more (registered may still become promoted or rejected, by the gate).</summary>
    public static bool IsFinal(string state) => state is not ("waiting" or "running");
}

/// <summary>Retraining over the gRPC service <c>Retrain</c>: each call as it is, its status as one line.</summary>
internal sealed class GrpcRetrainClient(string target, GrpcChannel channel) : IRetrainClient
{
    private readonly Retrain.RetrainClient _client = new(channel);

    public Task<RetrainStartReply> StartAsync(StartRetrainRequest request) => Call(_client.StartAsync(request));

    public Task<RetrainJobList> ListAsync(ListRetrainJobsRequest request) => Call(_client.ListAsync(request));

    public Task<RetrainJob> GetAsync(RetrainJobRequest request) => Call(_client.GetAsync(request));

    public Task<RetrainJob> CancelAsync(RetrainJobRequest request) => Call(_client.CancelAsync(request));

    public async IAsyncEnumerable<RetrainJob> WatchAsync(RetrainJobRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using AsyncServerStreamingCall<RetrainJob> call = _client.Watch(request, cancellationToken: cancellationToken);
        while (true)
        {
            // The status of a failed stream arrives from MoveNext, which a yield cannot sit beside in a try with a catch.
            bool next;
            try
            {
                next = await call.ResponseStream.MoveNext(cancellationToken);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                // The caller stopped following: a cancellation, as an HTTP poll's would be.
                throw new OperationCanceledException(cancellationToken);
            }
            catch (RpcException e)
            {
                throw GrpcCalls.Failure(target, e);
            }
            if (!next)
            {
                yield break;
            }
            yield return call.ResponseStream.Current;
        }
    }

    public void Dispose() => channel.Dispose();

    private Task<T> Call<T>(AsyncUnaryCall<T> call) => GrpcCalls.Unary(target, call);
}
