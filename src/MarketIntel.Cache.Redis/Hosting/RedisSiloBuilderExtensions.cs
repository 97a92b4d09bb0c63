using MarketIntel.Abstractions.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MarketIntel.Cache.Redis.Hosting;

/// <summary>Puts the grid's asset cache in Redis.</summary>
public static class RedisSiloBuilderExtensions
{
    /// <summary>
    /// The <see cref="IAssetCache"/> in Redis hashes, with its options (checked at start by
    /// <see cref="RedisCacheOptionsValidator"/>); <paramref name="configureOptions"/> binds or sets them. Call before
    /// <c>AddMarketIntelGrid</c>, whose embedded default (no cache) it replaces.
    /// </summary>
    public static ISiloBuilder AddMarketIntelRedisCache(this ISiloBuilder silo, Action<OptionsBuilder<RedisCacheOptions>>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var options = silo.Services.AddOptions<RedisCacheOptions>();
        configureOptions?.Invoke(options);
        options.ValidateOnStart();
        silo.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisCacheOptions>, RedisCacheOptionsValidator>());
        // The cache's own connection: it must not stop the silo from starting, nor fail it later, so it does not
        // abort when Redis is down and reconnects by itself.
        silo.Services.AddKeyedSingleton<IConnectionMultiplexer>(RedisAssetCache.ConnectionKey, (services, _) =>
        {
            var redis = ConfigurationOptions.Parse(services.GetRequiredService<IOptions<RedisCacheOptions>>().Value.Redis);
            redis.AbortOnConnectFail = false;
            return ConnectionMultiplexer.Connect(redis);
        });
        silo.Services.AddSingleton<RedisAssetCache>();
        silo.Services.AddSingleton<IAssetCache>(services => services.GetRequiredService<RedisAssetCache>());
        silo.Services.AddHostedService(services => services.GetRequiredService<RedisAssetCache>());
        return silo;
    }
}
