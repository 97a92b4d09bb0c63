using MarketIntel.Abstractions.Hosting;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Storage.Postgres.Streaming;
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
    /// <summary>The ADO.NET invariant name under which Orleans' reminder provider knows Npgsql.</summary>
    public const string ReminderInvariant = "Npgsql";

    /// <summary>
    /// Grain storage (the provider the grid's grains use), the bar archive, the model registry's store, the live
    /// outcome scores, the drift windows, the retraining jobs, the prediction log, Orleans reminders (the retraining schedule) and the retraining trigger stream on the database of the <see cref="PostgresOptions"/>, which <paramref name="configureOptions"/>
    /// binds or sets (a host that registered them already passes none). The schema must have been migrated (<c>marketintel db migrate</c>);
    /// call before <c>AddMarketIntelGrid(..., inMemoryStorage: false)</c>, whose embedded defaults these replace.
    /// </summary>
    public static ISiloBuilder AddMarketIntelPostgres(this ISiloBuilder silo, Action<OptionsBuilder<PostgresOptions>>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddMarketIntelPostgresOptions(configureOptions);
        silo.Services.AddSingleton(services => NpgsqlDataSource.Create(services.GetRequiredService<IOptions<PostgresOptions>>().Value.ConnectionString));
        silo.Services.AddGrainStorage(GridStorage.Name, static (services, _) => new PostgresGrainStorage(
            services.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            services.GetRequiredService<NpgsqlDataSource>(),
            services.GetRequiredService<Serializer>()));
        silo.Services.AddSingleton(services =>
        {
            PostgresOptions options = services.GetRequiredService<IOptions<PostgresOptions>>().Value;
            return new PostgresBarArchive(services.GetRequiredService<NpgsqlDataSource>(), options.ArchiveBatchRows, options.ArchiveWriters, options.MaxConcurrentReplays,
                services.GetService<System.Diagnostics.Metrics.IMeterFactory>(), options.ArchiveMaxQueuedRows);
        });
        silo.Services.AddSingleton<IBarArchive>(services => services.GetRequiredService<PostgresBarArchive>());
        silo.Services.AddSingleton<IModelStore>(services => new PostgresModelStore(services.GetRequiredService<NpgsqlDataSource>()));
        silo.Services.AddSingleton<IScoreStore>(services => new PostgresScoreStore(services.GetRequiredService<NpgsqlDataSource>()));
        silo.Services.AddSingleton<IDriftStore>(services => new PostgresDriftStore(services.GetRequiredService<NpgsqlDataSource>()));
        silo.Services.AddSingleton<IRetrainJobStore>(services => new PostgresRetrainJobStore(services.GetRequiredService<NpgsqlDataSource>()));
        silo.Services.AddSingleton(services =>
        {
            PostgresOptions options = services.GetRequiredService<IOptions<PostgresOptions>>().Value;
            return new PostgresPredictionLog(services.GetRequiredService<NpgsqlDataSource>(), options.PredictionLog, options.ArchiveBatchRows,
                options.PredictionLogMaxQueuedRows, options.PredictionLogRetention, options.PredictionLogSweepInterval,
                services.GetService<System.Diagnostics.Metrics.IMeterFactory>(), services.GetService<Microsoft.Extensions.Logging.ILogger<PostgresPredictionLog>>());
        });
        silo.Services.AddSingleton<IPredictionLog>(services => services.GetRequiredService<PostgresPredictionLog>());
        silo.AddPostgresTriggerStream();
        silo.AddMarketIntelPostgresReminders();
        return silo;
    }

    /// <summary>
    /// Orleans reminders in PostgreSQL: the ADO.NET reminder provider (invariant <see cref="ReminderInvariant"/>) on the
    /// table and statements of migration 0010, through the silo's <see cref="NpgsqlDataSource"/> (one connection pool
    /// for everything the silo keeps in PostgreSQL), which the caller registers. <see cref="AddMarketIntelPostgres"/>
    /// calls it; a reminder survives the silo that registered it and fires on whichever silo owns its grain's range.
    /// </summary>
    public static ISiloBuilder AddMarketIntelPostgresReminders(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return silo.UseAdoNetReminderService(reminders => reminders.Configure<NpgsqlDataSource>((options, database) =>
        {
            options.Invariant = ReminderInvariant;
            options.DataSource = database;
        }));
    }

    /// <summary>
    /// The PostgreSQL options, checked at start by <see cref="PostgresOptionsValidator"/>; <paramref name="configureOptions"/>
    /// binds or sets them.
    /// </summary>
    public static IServiceCollection AddMarketIntelPostgresOptions(this IServiceCollection services, Action<OptionsBuilder<PostgresOptions>>? configureOptions = null)
    {
        services.AddCheckedOptions(new PostgresOptionsValidator(), configureOptions);
        return services;
    }
}
