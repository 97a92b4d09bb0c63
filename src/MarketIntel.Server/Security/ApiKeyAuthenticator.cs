using System.Collections.Frozen;
using MarketIntel.Abstractions;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Security;

/// <summary>
/// Checks API keys against the store's active keys, which it holds in memory and reads again every
/// <see cref="AuthOptions.RefreshInterval"/>. A failed read keeps the keys it had (and says so in the log), so a
/// database outage neither opens the grid nor locks everyone out.
/// </summary>
public sealed partial class ApiKeyAuthenticator(IApiKeyStore store, IOptions<AuthOptions> options, ILogger<ApiKeyAuthenticator> logger) : BackgroundService
{
    // The most keys remembered as checked; past it the memory starts afresh (a client cycling through invented
    // keys never matches one, so only real keys are remembered).
    private const int MaxVerified = 10_000;

    private Snapshot _snapshot = new(FrozenDictionary<string, (ApiKeyRecord, Caller)>.Empty);

    /// <summary>How many keys are active now.</summary>
    public int ActiveKeys => Volatile.Read(ref _snapshot).Active.Count;

    /// <summary>
    /// Who presented <paramref name="key"/>, or null when it is not an active key (unknown, revoked, malformed). A
    /// key is hashed the first time it is seen after each reading of the store; after that it is found by its text,
    /// with no hashing and no allocation, until the next reading.
    /// </summary>
    public Caller? Authenticate(ReadOnlySpan<char> key)
    {
        Snapshot snapshot = Volatile.Read(ref _snapshot);
        if (snapshot.Verified.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(key, out Caller? known))
        {
            return known;
        }
        string? id = ApiKeys.IdOf(key);
        if (id is null || !snapshot.Active.TryGetValue(id, out var entry) || !ApiKeys.Matches(key, entry.Record))
        {
            return null;
        }
        if (snapshot.Verified.Count >= MaxVerified)
        {
            snapshot.Verified.Clear();
        }
        snapshot.Verified.TryAdd(key.ToString(), entry.Caller);
        return entry.Caller;
    }

    /// <summary>Reads the keys before the silo serves: a store that cannot be read stops the start.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await Refresh(cancellationToken);
        if (ActiveKeys == 0)
        {
            NoActiveKeys(logger);
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RefreshInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await Refresh(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                RefreshFailed(logger, e.Message);
            }
        }
    }

    /// <summary>Reads the store's keys now.</summary>
    public async Task Refresh(CancellationToken cancellationToken = default)
    {
        var keys = await store.List(cancellationToken);
        // A new snapshot forgets the keys checked so far, so a revoked key is refused from this reading on.
        Volatile.Write(ref _snapshot, new Snapshot(keys.Where(k => k.IsActive)
            .ToFrozenDictionary(k => k.Id, k => (k, new Caller(k.Name, k.Role)), StringComparer.Ordinal)));
    }

    private sealed record Snapshot(FrozenDictionary<string, (ApiKeyRecord Record, Caller Caller)> Active)
    {
        public System.Collections.Concurrent.ConcurrentDictionary<string, Caller> Verified { get; } = new(StringComparer.Ordinal);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "API keys are on but none is active: every call but /healthz will be refused until a key is created")]
    private static partial void NoActiveKeys(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API keys could not be read again, the keys read before stay in force: {Reason}")]
    private static partial void RefreshFailed(ILogger logger, string reason);
}
