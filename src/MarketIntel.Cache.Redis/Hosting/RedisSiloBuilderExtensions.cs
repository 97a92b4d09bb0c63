using MarketIntel.Abstractions.Hosting;
using MarketIntel.Abstractions.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MarketIntel.Cache.Redis.Hosting;

/// <summary>Puts the grid's asset cache in Redis.</summary>
public static class RedisSiloBuilderExtensions
{
    /// <summary>
    /// The <see cref="IAssetCache"/> in Redis hashes, with its options (checked at start by
    /// <see cref="RedisCacheOptionsValidator"/>), which <paramref name="configureOptions"/> binds or sets (a host that
    /// registered them already passes none). Call before <c>AddMarketIntelGrid</c>, whose embedded default (no cache)
    /// it replaces.
    /// </summary>
    public static ISiloBuilder AddMarketIntelRedisCache(this ISiloBuilder silo, Action<OptionsBuilder<RedisCacheOptions>>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddMarketIntelRedisCacheOptions(configureOptions);
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

    /// <summary>
    /// The cache's options, checked at start by <see cref="RedisCacheOptionsValidator"/>; <paramref name="configureOptions"/>
    /// binds or sets them.
    /// </summary>
    public static IServiceCollection AddMarketIntelRedisCacheOptions(this IServiceCollection services, Action<OptionsBuilder<RedisCacheOptions>>? configureOptions = null)
    {
        services.AddCheckedOptions(new RedisCacheOptionsValidator(), configureOptions);
        return services;
    }
}
