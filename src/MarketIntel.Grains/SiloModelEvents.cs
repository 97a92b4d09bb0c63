using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Grains;

/// <summary>
/// This silo's subscription to the registry's changes: it applies each pushed deployment to the silo's
/// <see cref="SiloModelCache"/> and hands every change to local listeners (the API's model event streams). It
/// subscribes when the silo becomes active and renews the subscription every <see cref="Renewal"/>, which also
/// re-subscribes to a new activation of the registry (one that starts with no subscribers).
/// </summary>
public sealed partial class SiloModelEvents(IGrainFactory grains, SiloModelCache models, ILogger<SiloModelEvents> logger)
    : IModelEventObserver, ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    /// <summary>How often the silo renews its subscription; the lease it asks for is three renewals.</summary>
    public static readonly TimeSpan Renewal = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly List<Action<ModelEvent>> _listeners = [];
    private IModelEventObserver? _reference;
    private Timer? _renewal;

    private IModelRegistryGrain Registry => grains.GetGrain<IModelRegistryGrain>(0);

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(SiloModelEvents), ServiceLifecycleStage.Active, Start, Stop);
    }

    private async Task Start(CancellationToken cancellationToken)
    {
        _reference = grains.CreateObjectReference<IModelEventObserver>(this);
        await Renew();
        _renewal = new Timer(_ => _ = Renew(), null, Renewal, Renewal);
    }

    private async Task Stop(CancellationToken cancellationToken)
    {
        _renewal?.Dispose();
        if (_reference is null)
        {
            return;
        }
        try
        {
            await Registry.Unsubscribe(_reference).WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Stopping goes on: the subscription lapses by itself (the registry may be stopping too, with the cluster).
            LogUnsubscribeFailed(e);
        }
    }

    // The registry's failure to answer (a silo of it going down) is retried at the next renewal; meanwhile the
    // cache's poll keeps this silo current.
    private async Task Renew()
    {
        try
        {
            await Registry.Subscribe(_reference!, Renewal * 3);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogSubscriptionFailed(e);
        }
    }

    public Task OnModelEvent(ModelEvent change)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (change.Deployment is { } deployment)
        {
            models.Apply(deployment);
        }
        Action<ModelEvent>[] listeners;
        lock (_lock)
        {
            listeners = [.. _listeners];
        }
        foreach (var listener in listeners)
        {
            listener(change);
        }
        return Task.CompletedTask;
    }

    /// <summary>Calls <paramref name="listener"/> with every change this silo hears of until the result is disposed; it must be quick and must not throw.</summary>
    public IDisposable Listen(Action<ModelEvent> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_lock)
        {
            _listeners.Add(listener);
        }
        return new Listening(this, listener);
    }

    public void Dispose() => _renewal?.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not subscribe this silo to the model registry's changes (retried in a few seconds; predictions follow changes by polling meanwhile)")]
    private partial void LogSubscriptionFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Debug, Message = "could not end this silo's subscription to the model registry while stopping (it lapses by itself)")]
    private partial void LogUnsubscribeFailed(Exception e);

    private sealed class Listening(SiloModelEvents events, Action<ModelEvent> listener) : IDisposable
    {
        public void Dispose()
        {
            lock (events._lock)
            {
                events._listeners.Remove(listener);
            }
        }
    }
}
