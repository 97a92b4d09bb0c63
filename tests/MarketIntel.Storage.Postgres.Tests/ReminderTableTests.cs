using System.Collections.Concurrent;
using MarketIntel.Storage.Postgres.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>A grain that keeps one reminder and records each of its ticks with the silo it ran on.</summary>
public interface IReminderProbeGrain : IGrainWithStringKey
{
    /// <summary>Registers (or moves) the reminder to fire every <paramref name="period"/>.</summary>
    Task Start(TimeSpan period);

    /// <summary>Unregisters the reminder.</summary>
    Task Stop();
}

public sealed class ReminderProbeGrain(ILocalSiloDetails silo) : Grain, IReminderProbeGrain, IRemindable
{
    public const string Reminder = "probe";

    /// <summary>Every tick of every probe, as (grain key, silo address).</summary>
    public static ConcurrentQueue<(string Grain, string Silo)> Ticks { get; } = new();

    public async Task Start(TimeSpan period) => await this.RegisterOrUpdateReminder(Reminder, period, period);

    public async Task Stop()
    {
        if (await this.GetReminder(Reminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        Ticks.Enqueue((this.GetPrimaryKeyString(), silo.SiloAddress.ToString()));
        return Task.CompletedTask;
    }
}

/// <summary>
/// Orleans reminders on real PostgreSQL through the ADO.NET provider and migration 0010's statements: a reminder
/// outlives the silo that registered it (killed, not stopped) and fires on a silo started afterwards, and the table
/// answers the provider's contract: the reminders of any range of the ring, wrapping or not, new
/// etags on every write and removal by the current etag only, periods past 24.8 days; an unregistered reminder leaves no row.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class ReminderTableTests(PostgresFixture postgres) : IDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    // The silos run in this process: their configurator reaches the database through this field.
    private static NpgsqlDataSource? s_database;

    private readonly NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    public void Dispose() => _database.Dispose();

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton(s_database!);
            siloBuilder.AddMarketIntelPostgresReminders();
            siloBuilder.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = Period);
        }
    }

    private static Task<TestCluster> Start(string serviceId) => OneSiloCluster.Start<Configurator>(serviceId);

    private async Task<long> Rows(string serviceId)
    {
        await using var command = _database.CreateCommand("SELECT count(*) FROM orleans_reminders WHERE service_id = $1");
        command.Parameters.AddWithValue(serviceId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Waits until a tick of <paramref name="grain"/> satisfies <paramref name="where"/>; fails after <see cref="Patience"/>.</summary>
    private static async Task<(string Grain, string Silo)> Tick(string grain, Func<string, bool> where)
    {
        using var patience = new CancellationTokenSource(Patience);
        while (true)
        {
            if (ReminderProbeGrain.Ticks.FirstOrDefault(t => t.Grain == grain && where(t.Silo)) is { Grain: not null } tick)
            {
                return tick;
            }
            Assert.False(patience.IsCancellationRequested, $"reminder of {grain} never fired where expected; ticks: {string.Join(", ", ReminderProbeGrain.Ticks)}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_reminder_registered_on_a_killed_silo_fires_on_a_silo_started_after_it_and_unregistering_removes_its_row()
    {
        s_database = _database;
        string service = $"svc-{Guid.NewGuid():N}";
        string grain = $"durable-{Guid.NewGuid():N}";

        TestCluster first = await Start(service);
        string firstSilo = first.Primary!.SiloAddress.ToString();
        await first.Client.GetGrain<IReminderProbeGrain>(grain).Start(Period);
        Assert.Equal(1, await Rows(service));
        // Killed: no grain deactivates, nothing is unregistered; only the row in PostgreSQL remembers the reminder.
        await first.KillSiloAsync(first.Primary!);
        await first.DisposeAsync();

        TestCluster second = await Start(service);
        try
        {
            string secondSilo = second.Primary!.SiloAddress.ToString();
            Assert.NotEqual(firstSilo, secondSilo);
            // Nothing calls the grain: the second silo reads the reminder from the table and activates it to fire.
            await Tick(grain, silo => silo == secondSilo);

            await second.Client.GetGrain<IReminderProbeGrain>(grain).Stop();
            Assert.Equal(0, await Rows(service));
        }
        finally
        {
            await OneSiloCluster.Stop(second);
        }
    }

    [Fact]
    public async Task The_table_answers_the_providers_contract_ranges_of_the_ring_wrapping_or_not_etags_and_long_periods()
    {
        s_database = _database;
        string service = $"svc-{Guid.NewGuid():N}";
        TestCluster cluster = await Start(service);
        try
        {
            var table = cluster.GetSiloServiceProvider().GetRequiredService<IReminderTable>();
            var start = new DateTime(2026, 3, 1, 12, 30, 15, DateTimeKind.Utc);
            var entries = Enumerable.Range(0, 64).Select(i => new ReminderEntry
            {
                GrainId = GrainId.Create("probe", $"g{i}"),
                ReminderName = "r",
                StartAt = start.AddSeconds(i),
                // Past int.MaxValue milliseconds (24.8 days) the provider sends the period as a bigint.
                Period = i % 2 == 0 ? TimeSpan.FromMinutes(i + 1) : TimeSpan.FromDays(30 + i),
            }).ToList();
            foreach (ReminderEntry entry in entries)
            {
                entry.ETag = await table.UpsertRow(entry);
            }

            // (begin, end] on the ring of uint hashes; the provider picks its query by the signed order of the bounds.
            static bool InRange(uint hash, uint begin, uint end) => begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;
            var rng = new Random(20260301);
            uint[] bounds = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, .. Enumerable.Range(0, 20).Select(_ => (uint)rng.NextInt64(0, 1L << 32))];
            foreach (uint begin in bounds)
            {
                foreach (uint end in bounds)
                {
                    ReminderTableData read = await table.ReadRows(begin, end);
                    var expected = entries.Where(e => InRange(e.GrainId.GetUniformHashCode(), begin, end)).Select(e => e.GrainId.ToString()).Order();
                    Assert.Equal(expected, read.Reminders.Select(r => r.GrainId.ToString()).Order());
                }
            }

            ReminderEntry longOne = entries[1];
            ReminderEntry? stored = await table.ReadRow(longOne.GrainId, "r");
            Assert.NotNull(stored);
            Assert.Equal(longOne.Period, stored.Period);
            Assert.Equal(longOne.StartAt, stored.StartAt);
            Assert.Equal(DateTimeKind.Utc, stored.StartAt.Kind);
            Assert.Equal(longOne.ETag, stored.ETag);
            Assert.Single((await table.ReadRows(longOne.GrainId)).Reminders);

            // Each write gives a new etag, and only the current one removes the row.
            string? stale = longOne.ETag;
            string? current = await table.UpsertRow(longOne);
            Assert.NotEqual(stale, current);
            Assert.False(await table.RemoveRow(longOne.GrainId, "r", stale!));
            Assert.NotNull(await table.ReadRow(longOne.GrainId, "r"));
            Assert.True(await table.RemoveRow(longOne.GrainId, "r", current!));
            Assert.Null(await table.ReadRow(longOne.GrainId, "r"));
            Assert.Equal(entries.Count - 1, await Rows(service));
        }
        finally
        {
            await OneSiloCluster.Stop(cluster);
        }
    }
}
