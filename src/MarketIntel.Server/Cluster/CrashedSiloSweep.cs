using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace MarketIntel.Server.Cluster;

/// <summary>
/// Lets a silo that starts after a crash of the whole cluster (or of the silos it would join) serve at once rather than
/// after Orleans' membership protocol has voted the dead ones out, which a lone survivor cannot do quickly: the table
/// still lists every crashed silo as active, and the newcomer probes them, waits, and places grains on them.
/// <para>
/// Before the silo becomes active it reads the membership table and marks dead every other silo that is both
/// silent in the table (two heartbeats missed: no write for twice <see cref="ClusterMembershipOptions.IAmAliveTablePublishTimeout"/>)
/// and unreachable (nothing accepts a connection on its silo port within a second: a process that is merely paused,
/// in a long GC say, still has its port accepted by the kernel), or that is an earlier generation of this very
/// silo's address. Both conditions are needed: a silo that is alive but cut off from this one still writes its
/// heartbeat, so it is left to the protocol's votes (no split brain by this step); one that is cut off from the
/// table too is dead to the cluster anyway, and Orleans stops a silo that finds itself declared dead. An entry that
/// is unreachable but not yet silent long enough (the crash was moments ago) is waited for, up to that period.
/// </para>
/// </summary>
internal sealed partial class CrashedSiloSweep(
    IMembershipTable table, ILocalSiloDetails local, IOptions<ClusterMembershipOptions> membership, ILogger<CrashedSiloSweep> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(1);

    private TimeSpan StalePeriod => membership.Value.IAmAliveTablePublishTimeout * 2;

    public void Participate(ISiloLifecycle lifecycle) =>
        // After membership has read the table (runtime initialisation), before the silo joins (becomes active).
        lifecycle.Subscribe(nameof(CrashedSiloSweep), ServiceLifecycleStage.ApplicationServices, Sweep);

    private async Task Sweep(CancellationToken cancellationToken)
    {
        DateTime giveUp = DateTime.UtcNow + StalePeriod + membership.Value.IAmAliveTablePublishTimeout;
        while (!cancellationToken.IsCancellationRequested)
        {
            MembershipTableData data = await table.ReadAllAsync(cancellationToken);
            bool waiting = false, changed = false;
            foreach (var (entry, etag) in data.Members)
            {
                if (entry.SiloAddress.Equals(local.SiloAddress) || entry.Status is not (SiloStatus.Active or SiloStatus.Joining or SiloStatus.Created or SiloStatus.ShuttingDown or SiloStatus.Stopping))
                {
                    continue;
                }
                Verdict verdict = await Judge(entry, cancellationToken);
                if (verdict == Verdict.Dead)
                {
                    entry.Status = SiloStatus.Dead;
                    if (!await table.UpdateRowAsync(entry, etag, data.Version.Next(), cancellationToken))
                    {
                        changed = true;  // the table changed meanwhile: read it again
                        break;
                    }
                    Declared(logger, entry.SiloAddress, entry.IAmAliveTime);
                    changed = true;  // the next update needs the table's new version
                    break;
                }
                waiting |= verdict == Verdict.NotYetStale;
            }
            if (changed)
            {
                continue;
            }
            if (!waiting || DateTime.UtcNow > giveUp)
            {
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private async Task<Verdict> Judge(MembershipEntry entry, CancellationToken cancellationToken)
    {
        // The same address as this silo with an older generation: this silo's predecessor, which cannot be running.
        if (entry.SiloAddress.Endpoint.Equals(local.SiloAddress.Endpoint) && entry.SiloAddress.Generation < local.SiloAddress.Generation)
        {
            return Verdict.Dead;
        }
        if (await Reachable(entry, cancellationToken))
        {
            return Verdict.Alive;
        }
        DateTime heartbeat = entry.IAmAliveTime > entry.StartTime ? entry.IAmAliveTime : entry.StartTime;
        return DateTime.UtcNow - heartbeat.ToUniversalTime() >= StalePeriod ? Verdict.Dead : Verdict.NotYetStale;
    }

    private static async Task<bool> Reachable(MembershipEntry entry, CancellationToken cancellationToken)
    {
        using var socket = new Socket(entry.SiloAddress.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await socket.ConnectAsync(entry.SiloAddress.Endpoint, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private enum Verdict
    {
        Alive,
        NotYetStale,
        Dead,
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Marked silo {Silo} dead in the membership table before joining: it has not written a heartbeat since {LastHeartbeat:o} and does not accept connections (a crash)")]
    private static partial void Declared(ILogger logger, SiloAddress silo, DateTime lastHeartbeat);
}
