using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains;
using MarketIntel.Grains.Retraining.Triggers;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Storage;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// The retraining schedule across restarts on real PostgreSQL (registry and reminders): a grid started with the
/// schedule on starts it for a name registered before, with no call of its own, and a grid started with it off
/// removes the reminder from the table.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class RetrainScheduleRestartTests(PostgresFixture postgres) : IDisposable
{
    private static readonly byte[] Model = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));

    // The silos run in this process: their configurator reaches these through static fields.
    private static NpgsqlDataSource? s_database;
    private static TimeSpan? s_every;
    private static RecordingRetrainTriggers s_triggers = new();

    private readonly NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    public void Dispose() => _database.Dispose();

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton(s_database!);
            siloBuilder.Services.AddSingleton<IModelStore>(new PostgresModelStore(s_database!));
            siloBuilder.Services.AddSingleton<IRetrainTriggers>(s_triggers);
            siloBuilder.AddMarketIntelPostgresReminders();
            siloBuilder.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            siloBuilder.Services.AddMarketIntelRetrainSchedule(o => o.Configure(s => s.Every = s_every));
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5");
        }
    }

    private async Task<string[]> Reminders(string serviceId)
    {
        await using var command = _database.CreateCommand("SELECT reminder_name FROM orleans_reminders WHERE service_id = $1 ORDER BY 1");
        command.Parameters.AddWithValue(serviceId);
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            names.Add(reader.GetString(0));
        }
        return [.. names];
    }

    [Fact]
    public async Task A_grid_started_with_the_schedule_on_starts_it_for_names_registered_before_and_one_started_with_it_off_unregisters_it()
    {
        s_database = _database;
        s_triggers = new RecordingRetrainTriggers();
        string service = $"svc-{Guid.NewGuid():N}";

        s_every = null;
        TestCluster off = await OneSiloCluster.Start<Configurator>(service);
        try
        {
            await off.Client.GetGrain<IModelRegistryGrain>(0).Register("early", "v1", Model);
            Assert.Empty(await Reminders(service));
        }
        finally
        {
            await OneSiloCluster.Stop(off);
        }

        s_every = TimeSpan.FromSeconds(1);
        TestCluster on = await OneSiloCluster.Start<Configurator>(service);
        try
        {
            // Nothing in this grid registers or calls anything: its start gives every stored name its schedule.
            IReadOnlyList<RetrainRequest> sent = await s_triggers.WaitFor("early", 2, TimeSpan.FromSeconds(90));
            Assert.All(sent, r => Assert.Equal(RetrainTrigger.Schedule, r.Trigger));
            Assert.Equal([RetrainScheduleGrain.ReminderOf(TimeSpan.FromSeconds(1))], await Reminders(service));
        }
        finally
        {
            await OneSiloCluster.Stop(on);
        }
        // A stopped grid keeps its reminders: they are the schedule's memory across restarts.
        Assert.Single(await Reminders(service));

        s_every = null;
        TestCluster offAgain = await OneSiloCluster.Start<Configurator>(service);
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while ((await Reminders(service)).Length > 0)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), "turning the schedule off left its reminder in the table");
                await Task.Delay(100);
            }
        }
        finally
        {
            await OneSiloCluster.Stop(offAgain);
        }
    }
}
