using Grpc.Core;
using Grpc.Core.Interceptors;
using MarketIntel.Abstractions;

namespace MarketIntel.Server.Api;

/// <summary>How grid errors become gRPC and HTTP statuses.</summary>
internal static class Errors
{
    public static StatusCode GrpcStatus(GridErrorKind kind) => kind switch
    {
        GridErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        GridErrorKind.NotFound => StatusCode.NotFound,
        GridErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        GridErrorKind.Unavailable => StatusCode.Unavailable,
        GridErrorKind.Unauthenticated => StatusCode.Unauthenticated,
        GridErrorKind.PermissionDenied => StatusCode.PermissionDenied,
        GridErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
        _ => StatusCode.Internal,
    };

    public static int HttpStatus(GridErrorKind kind) => kind switch
    {
        GridErrorKind.InvalidArgument => StatusCodes.Status400BadRequest,
        GridErrorKind.NotFound => StatusCodes.Status404NotFound,
        GridErrorKind.FailedPrecondition => StatusCodes.Status409Conflict,
        GridErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        GridErrorKind.Unauthenticated => StatusCodes.Status401Unauthorized,
        GridErrorKind.PermissionDenied => StatusCodes.Status403Forbidden,
        GridErrorKind.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The error body's code of a grid error: the name of its gRPC status.</summary>
    public static string Code(GridErrorKind kind) => StatusName(GrpcStatus(kind));

    // Indexed by the status's number, as the gRPC specification names them (doc/statuscodes.md).
    private static readonly string[] StatusNames =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ];

    /// <summary>
    /// The specification's name of a gRPC status (<c>NOT_FOUND</c>); a number outside the specification's is
    /// <c>UNKNOWN</c>, as the specification tells clients to read it. One of 17 names, so a metric label can carry it.
    /// </summary>
    public static string StatusName(StatusCode code) => (uint)code < (uint)StatusNames.Length ? StatusNames[(int)code] : StatusNames[(int)StatusCode.Unknown];

    public static GridException InvalidArgument(string message) => new(GridErrorKind.InvalidArgument, message);

    /// <summary>gRPC's name for the trailer that tells a client how long to wait before it retries, in milliseconds.</summary>
    public const string RetryPushbackTrailer = "grpc-retry-pushback-ms";

    /// <summary>The trailers of an error: the retry hint, where the grid gives one.</summary>
    public static Metadata Trailers(GridException e) =>
        e.RetryAfter is { } wait ? new Metadata { { RetryPushbackTrailer, ((long)Math.Ceiling(wait.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) } } : [];

    /// <summary>
    /// The grid error an exception stands for, looking through the wrappers Orleans adds (a grain activation that
    /// failed arrives wrapped): a <see cref="GridException"/> itself, or UNAVAILABLE for a silo, PostgreSQL or the
    /// network failing, which a retry may get past. Null for anything else (a bug: INTERNAL).
    /// </summary>
    public static GridException? AsGridError(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is GridException grid)
            {
                return grid;
            }
        }
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException or TimeoutException
                or Orleans.Storage.InconsistentStateException or Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
            {
                return GridException.Unavailable("a server the grid depends on failed", inner);
            }
        }
        return null;
    }
}

/// <summary>Turns grid errors thrown by a service method into gRPC statuses with the grid's message.</summary>
internal sealed partial class GridErrorInterceptor(ILogger<GridErrorInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception e) when (Map(e, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception e) when (Map(e, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception e) when (Map(e, context) is { } mapped)
        {
            throw mapped;
        }
    }

    private RpcException? Map(Exception e, ServerCallContext context)
    {
        switch (e)
        {
            case RpcException:
                return null;
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                return new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled"));
            case var _ when Errors.AsGridError(e) is { } grid:
                return new RpcException(new Status(Errors.GrpcStatus(grid.Kind), grid.Message), Errors.Trailers(grid));
            default:
                LogUnexpected(e, context.Method);
                return new RpcException(new Status(StatusCode.Internal, $"internal error: {e.GetType().Name}"));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected error in {Method}")]
    private partial void LogUnexpected(Exception exception, string method);
}
