using Grpc.Core;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Server.Application;

/// <summary>
/// Who holds the bars this server acknowledges, as IngestBars replies name it (<c>holder</c>): <see cref="Durable"/>
/// where the bar archive keeps them through any restart, else an id drawn when this process started. A client that
/// names the holder it expects is refused by any other, before anything is applied, so an ingest never goes on
/// counting bars that a restarted server (embedded defaults keep bars in memory only) no longer holds.
/// </summary>
internal sealed class BarHolder(IBarArchive archive)
{
    /// <summary>The holder of a grid whose acknowledged bars are archived.</summary>
    public const string Durable = "durable";

    /// <summary>The trailer in which a refusal names this server's holder.</summary>
    public const string Trailer = "marketintel-holder";

    /// <summary>This server's holder id.</summary>
    public string Id { get; } = archive.IsDurable ? Durable : "memory-" + Guid.NewGuid().ToString("N");

    /// <summary>Refuses message <paramref name="message"/> of a call that expects another holder (none expected: any will do).</summary>
    public void Check(string expected, int message)
    {
        if (expected.Length > 0 && expected != Id)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"message {message}: this server is holder {Id}, not {expected}, which acknowledged the earlier bars; it may not hold them (a server without durable storage restarted): ask what it holds and send again"),
                new Metadata { { Trailer, Id } });
        }
    }
}
