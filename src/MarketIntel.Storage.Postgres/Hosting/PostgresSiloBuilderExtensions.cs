using MarketIntel.Abstractions.Storage;
using MarketIntel.Storage.Postgres.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;

namespace MarketIntel.Storage.Postgres.Hosting;

/// <summary>Puts the grid's durable state in PostgreSQL.</summary>
public static class PostgresSiloBuilderExtensions
{
    /// <summary>
    /// Grain storage (the provider the grid's grains use), the bar archive and the model registry on the database
    /// of <paramref name="options"/>. The schema must have been migrated (<c>marketintel db migrate</c>); call
    /// before <c>AddMarketIntelGrid(..., inMemoryStorage: false)</c>.
    /// </summary>
    public static ISiloBuilder AddMarketIntelPostgres(this ISiloBuilder silo, PostgresOptions options)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Problems().FirstOrDefault() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }
        silo.Services.AddSingleton(_ => NpgsqlDataSource.Create(options.ConnectionString));
        silo.Services.AddGrainStorage(GridStorage.Name, static (services, _) => new PostgresGrainStorage(
            services.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            services.GetRequiredService<NpgsqlDataSource>(),
            services.GetRequiredService<Serializer>()));
        silo.Services.AddSingleton<PostgresBarArchive>(services =>
            new PostgresBarArchive(services.GetRequiredService<NpgsqlDataSource>(), options.ArchiveBatchRows, options.ArchiveWriters, options.MaxConcurrentReplays));
        silo.Services.AddSingleton<IBarArchive>(services => services.GetRequiredService<PostgresBarArchive>());
        silo.Services.AddSingleton<IModelStore>(services => new PostgresModelStore(services.GetRequiredService<NpgsqlDataSource>()));
        return silo;
    }
}
