using System.Threading.Channels;
using MarketIntel.Abstractions;
using MarketIntel.Server.Limits;
using MarketIntel.Server.Security;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Api;

/// <summary>
/// One live stream of predictions to one client, whatever carries it (gRPC <c>StreamPredictions</c>, the web console's
/// server-sent events): the limits on how many assets and streams, a bounded buffer for a slow reader, and the end of
/// the stream when the client goes, the silo stops, or the client stalls.
/// </summary>
internal sealed class LivePredictions(PredictionFeed feed, IOptions<LimitsOptions> limitOptions, StreamQuota streams, StreamMetrics streamMetrics,
    IHostApplicationLifetime lifetime)
{
    private readonly LimitsOptions _limits = limitOptions.Value;

    /// <summary>Refuses a stream of no assets or of more than <see cref="LimitsOptions.MaxAssetsPerStream"/>.</summary>
    public void CheckCount(int assets)
    {
        if (assets == 0)
        {
            throw Errors.InvalidArgument("assets: name at least one asset to stream");
        }
        if (assets > _limits.MaxAssetsPerStream)
        {
            throw Over.Limit("assets", assets, _limits.MaxAssetsPerStream, nameof(LimitsOptions.MaxAssetsPerStream));
        }
    }

    /// <summary>
    /// Sends each new prediction of <paramref name="assets"/> (checked symbols) through <paramref name="write"/> until
    /// <paramref name="clientGone"/> or the silo stops, once <paramref name="opened"/> has told the client the stream is
    /// open. The stream takes a place of <paramref name="caller"/>'s (<see cref="StreamQuota"/>) while it lasts.
    /// </summary>
    /// <exception cref="GridException">Over a limit, or the client took nothing for <see cref="LimitsOptions.StreamStallTimeout"/>.</exception>
    public async Task Run(IReadOnlyList<string> assets, Caller? caller, Func<Task> opened, Func<PredictionResult, CancellationToken, Task> write,
        CancellationToken clientGone)
    {
        CheckCount(assets.Count);
        using IDisposable place = streams.Enter(caller);
        // Streams end when the client goes or the silo stops (a stream never read must not hold up a shutdown), or
        // when the client has taken nothing for Limits:StreamStallTimeout while predictions wait for it.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(clientGone, lifetime.ApplicationStopping);
        long lastTaken = Environment.TickCount64;
        int stalled = 0;
        // Bounded, so a client that stops reading cannot exhaust memory: past the buffer it loses the oldest
        // predictions, the drops are counted in /metrics, and a client that stays stalled is cut off.
        var channel = Channel.CreateBounded<PredictionResult>(
            new BoundedChannelOptions(_limits.StreamBufferPredictions) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ =>
            {
                streamMetrics.Dropped();
                if (Environment.TickCount64 - Volatile.Read(ref lastTaken) > _limits.StreamStallTimeout.TotalMilliseconds
                    && Interlocked.Exchange(ref stalled, 1) == 0)
                {
                    streamMetrics.Stalled();
                    ended.Cancel();
                }
            });
        await using IAsyncDisposable watch = await feed.Watch(assets, channel.Writer);
        await opened();
        try
        {
            await foreach (PredictionResult prediction in channel.Reader.ReadAllAsync(ended.Token))
            {
                await write(prediction, ended.Token);
                Volatile.Write(ref lastTaken, Environment.TickCount64);
            }
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
            // The client ended the stream, or the silo is stopping, or the client stalled (answered below).
        }
        if (Volatile.Read(ref stalled) == 1)
        {
            throw new GridException(GridErrorKind.ResourceExhausted,
                $"this stream's client took no prediction for {_limits.StreamStallTimeout} while {_limits.StreamBufferPredictions} waited (settings Limits:StreamStallTimeout, Limits:StreamBufferPredictions)");
        }
    }
}
