using Grpc.Core;
using MarketIntel.Abstractions;

namespace MarketIntel.Cli.Commands;

/// <summary>How the commands' gRPC clients report a call's failure: one line naming the target, the status and the grid's message.</summary>
internal static class GrpcCalls
{
    /// <summary>Awaits a unary call; a failed one becomes a <see cref="GridException"/> of one line.</summary>
    public static async Task<T> Unary<T>(string target, AsyncUnaryCall<T> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        using (call)
        {
            try
            {
                return await call;
            }
            catch (RpcException e)
            {
                throw Failure(target, e);
            }
        }
    }

    /// <summary>The one line a failed call reads as.</summary>
    public static GridException Failure(string target, RpcException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new GridException($"{target}: {e.StatusCode}: {e.Status.Detail}");
    }
}
