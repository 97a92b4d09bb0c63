using MarketIntel.Abstractions.Hosting;
using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Streams;

namespace MarketIntel.Storage.Postgres.Streaming;

/// <summary>
/// The retraining trigger stream in cluster mode: Orleans' ADO.NET stream provider on the grid's PostgreSQL, with the
/// statements of migration 0011. A request stays in <c>stream_messages</c> from the send until the silo that delivered
/// it to the model's consumer confirms it, so neither the sender's silo nor the consumer's dying loses it.
/// </summary>
public static class PostgresTriggerStreamHosting
{
    /// <summary>
    /// Registers the provider named <see cref="RetrainTriggerStreamNames.Provider"/> on the silo's <see cref="NpgsqlDataSource"/>,
    /// with the <see cref="TriggerStreamOptions"/> (checked at start; <paramref name="configureOptions"/> binds or sets
    /// them). Call before <c>AddMarketIntelGrid</c>, whose memory streams it replaces.
    /// </summary>
    public static ISiloBuilder AddPostgresTriggerStream(this ISiloBuilder silo, Action<OptionsBuilder<TriggerStreamOptions>>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddCheckedOptions(new TriggerStreamOptionsValidator(), configureOptions);
        silo.AddAdoNetStreams(RetrainTriggerStreamNames.Provider, stream =>
        {
            stream.ConfigureAdoNet(adoNet => adoNet.Configure<NpgsqlDataSource, IOptions<TriggerStreamOptions>>((o, database, settings) =>
            {
                TriggerStreamOptions s = settings.Value;
                o.Invariant = "Npgsql";
                o.DataSource = database;
                o.VisibilityTimeout = s.VisibilityTimeout;
                o.MaxAttempts = s.MaxAttempts;
                o.ExpiryTimeout = s.ExpiryTimeout;
                o.DeadLetterEvictionTimeout = s.DeadLetterRetention;
            }));
            stream.ConfigurePullingAgent(agent => agent.Configure<IOptions<TriggerStreamOptions>>((o, settings) =>
                o.GetQueueMsgsTimerPeriod = settings.Value.PollInterval));
            // Only the implicit subscription consumes it: no pub-sub store to keep. One queue (the provider's default)
            // carries a handful of requests an hour.
            stream.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);
        });
        return silo;
    }
}
