using System.Runtime.CompilerServices;
using System.Threading.Channels;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains;

namespace MarketIntel.Server.Application;

/// <summary>
/// What the grid does for a request about a model name's retraining jobs, written once for both APIs: each call goes
/// to the name's <see cref="IRetrainCoordinatorGrain"/> (on a serving silo), which keeps the jobs' records.
/// </summary>
internal sealed class RetrainOperations(IGrainFactory grains, SiloModelEvents events)
{
    /// <summary>
    /// How long <see cref="Watch"/> waits for a job's notice before it reads the coordinator's record instead: notices
    /// are sent one way, and a silo whose subscription to the registry lapsed in passing misses some.
    /// </summary>
    public static readonly TimeSpan QuietRead = TimeSpan.FromSeconds(2);

    // Notices a slow watcher may fall behind by; each carries the whole record, so dropping the oldest loses nothing
    // that a newer one does not say.
    private const int WatchBuffer = 64;

    private IRetrainCoordinatorGrain Coordinator(string name) => grains.GetGrain<IRetrainCoordinatorGrain>(name);

    /// <summary>
    /// Asks for a job (a checked request); the answer says whether it started, or why not. A name with no registered
    /// version is NOT_FOUND here, before a job is made that could only fail.
    /// </summary>
    public async Task<RetrainStart> Start(RetrainRequest request)
    {
        await grains.GetGrain<IModelRegistryGrain>(0).GetModel(request.Name);
        return await Coordinator(request.Name).Request(request);
    }

    /// <summary>Model <paramref name="name"/>'s jobs, newest first, at most <paramref name="limit"/>.</summary>
    public Task<IReadOnlyList<RetrainJob>> List(string name, int limit) => Coordinator(name).List(limit);

    /// <summary>One job of model <paramref name="name"/> (NOT_FOUND naming it when it has none of that id).</summary>
    public Task<RetrainJob> Get(string name, string id) => Coordinator(name).Get(id);

    /// <summary>Cancels an active job for <paramref name="client"/> and returns its record.</summary>
    public Task<RetrainJob> Cancel(string name, string id, string client) => Coordinator(name).Cancel(id, client);

    /// <summary>
    /// The job's record now and after every change, until it is final. The changes come from the model-event stream:
    /// the coordinator sends each one, with the whole record, as a <see cref="RetrainEvents"/> notice on the registry's
    /// fan-out to every silo. After <see cref="QuietRead"/> without one the coordinator's record is read, so a notice
    /// this silo missed delays a change, never loses it.
    /// </summary>
    public async IAsyncEnumerable<RetrainJob> Watch(string name, string id, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var notices = Channel.CreateBounded<RetrainJob>(new BoundedChannelOptions(WatchBuffer) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        // Listening starts before the first read, so no change falls between the two.
        using IDisposable listening = events.Listen(change =>
        {
            if (change.Change.Name == name && change.Change.Action is RetrainEvents.State or RetrainEvents.Progress
                && Read(change.Change.Detail) is { } job && job.Id == id)
            {
                notices.Writer.TryWrite(job);
            }
        });
        RetrainJob last = await Get(name, id);
        yield return last;
        while (last.IsActive)
        {
            RetrainJob next;
            using (var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                quiet.CancelAfter(QuietRead);
                try
                {
                    next = await notices.Reader.ReadAsync(quiet.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    next = await Get(name, id);
                }
            }
            // Notices may arrive out of order, and a read may repeat what a notice said.
            if (next.UpdatedAt < last.UpdatedAt || Same(last, next))
            {
                continue;
            }
            yield return next;
            last = next;
        }
    }

    // A notice that is not a job's record (another version's coordinator) is passed over; the quiet read catches up.
    private static RetrainJob? Read(string detail)
    {
        try
        {
            return RetrainJobJson.Read(detail);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    // The coordinator stamps every change; the state and progress besides, for two changes within one millisecond.
    private static bool Same(RetrainJob a, RetrainJob b) =>
        a.UpdatedAt == b.UpdatedAt && a.State == b.State && a.Detail == b.Detail && a.Progress with { Validation = null } == b.Progress with { Validation = null };
}
