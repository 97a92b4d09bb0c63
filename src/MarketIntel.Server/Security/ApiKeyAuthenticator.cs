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
    private FrozenDictionary<string, ApiKeyRecord> _active = FrozenDictionary<string, ApiKeyRecord>.Empty;

    /// <summary>How many keys are active now.</summary>
    public int ActiveKeys => Volatile.Read(ref _active).Count;

    /// <summary>The active key a request presented, or null when <paramref name="key"/> is not one (unknown, revoked, malformed).</summary>
    public ApiKeyRecord? Authenticate(ReadOnlySpan<char> key)
    {
        string? id = ApiKeys.IdOf(key);
        return id is not null && Volatile.Read(ref _active).TryGetValue(id, out ApiKeyRecord? record) && ApiKeys.Matches(key, record) ? record : null;
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
        Volatile.Write(ref _active, keys.Where(k => k.IsActive).ToFrozenDictionary(k => k.Id, StringComparer.Ordinal));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "API keys are on but none is active: every call but /healthz will be refused until a key is created")]
    private static partial void NoActiveKeys(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API keys could not be read again, the keys read before stay in force: {Reason}")]
    private static partial void RefreshFailed(ILogger logger, string reason);
}
