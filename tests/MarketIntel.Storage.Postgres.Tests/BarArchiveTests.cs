using System.Diagnostics.Metrics;
using MarketIntel.Features;
using MarketIntel.Storage.Postgres.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MarketIntel.Storage.Postgres.Tests;

[Collection(PostgresGroup.Name)]
public sealed class BarArchiveTests(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly NpgsqlDataSource _database = postgres.NewMigratedDatabase();
    private PostgresBarArchive _archive = null!;

    public Task InitializeAsync()
    {
        _archive = new PostgresBarArchive(_database, batchRows: 5000, writers: 2);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _archive.DisposeAsync();
        await _database.DisposeAsync();
    }

    private static List<StoredBar> Bars(long from, int count) =>
        Enumerable.Range(0, count).Select(i => new StoredBar(from + i * 60_000, new Bar(10 + i, 11 + i, 9 + i, 10.5 + i, 100 * i))).ToList();

    private async Task<List<StoredBar>> ReadAll(string asset)
    {
        var bars = new List<StoredBar>();
        await foreach (var bar in _archive.Read(asset))
        {
            bars.Add(bar);
        }
        return bars;
    }

    [Fact]
    public async Task When_PostgreSQL_falls_behind_appends_beyond_the_bound_are_refused_with_a_retry_hint_and_nothing_queues_without_bound()
    {
        await using var archive = new PostgresBarArchive(_database, batchRows: 100, writers: 1, maxQueuedRows: 300);
        // A lock held on the bars table: PostgreSQL takes no write until it is released (reads go on).
        await using var blocker = await _database.OpenConnectionAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("LOCK TABLE bars IN EXCLUSIVE MODE", blocker, transaction))
        {
            await command.ExecuteNonQueryAsync();
        }

        var waiting = new List<Task>();
        var refused = new List<MarketIntel.Abstractions.GridException>();
        for (int i = 0; i < 10; i++)
        {
            Task append = archive.Append($"SLOW{i}", Bars(0, 100));
            if (append.IsFaulted)
            {
                refused.Add(Assert.IsType<MarketIntel.Abstractions.GridException>(append.Exception!.InnerException));
            }
            else
            {
                waiting.Add(append);
            }
            Assert.True(archive.QueuedRows <= 300, $"{archive.QueuedRows} bars waiting, over the bound of 300");
        }
        Assert.Equal(3, waiting.Count);
        Assert.Equal(7, refused.Count);
        Assert.All(refused, e =>
        {
            Assert.Equal(MarketIntel.Abstractions.GridErrorKind.Unavailable, e.Kind);
            Assert.Equal(PostgresBarArchive.RetryHint, e.RetryAfter);
            Assert.Contains("the bar archive is behind PostgreSQL (300 bars waiting, limit 300: setting Postgres:ArchiveMaxQueuedRows)", e.Message, StringComparison.Ordinal);
        });
        Assert.Equal(700, archive.RefusedRows);
        Assert.False(waiting.Any(t => t.IsCompleted), "a write went through the lock");

        await transaction.RollbackAsync();
        await Task.WhenAll(waiting);
        Assert.Equal(0, archive.QueuedRows);
        // Room again: the next append is taken.
        await archive.Append("SLOW9", Bars(0, 100));
        Assert.Equal(100, (await ReadAll("SLOW0")).Count);
    }

    [Fact]
    public async Task Appended_bars_read_back_equal_and_in_timestamp_order()
    {
        var later = Bars(1_000_000, 3);
        var earlier = Bars(0, 5);
        await _archive.Append("X", later);
        await _archive.Append("X", earlier);
        Assert.Equal(earlier.Concat(later).ToList(), await ReadAll("X"));
        Assert.Empty(await ReadAll("NOTHING"));
    }

    [Fact]
    public async Task Appending_the_same_bars_again_stores_each_once()
    {
        var bars = Bars(0, 10);
        await _archive.Append("Y", bars);
        await _archive.Append("Y", bars.Take(4).ToList());
        await _archive.Append("Y", bars);
        Assert.Equal(bars, await ReadAll("Y"));
    }

    [Fact]
    public async Task Concurrent_appends_of_many_assets_share_writes_and_all_arrive()
    {
        long writesBefore = _archive.Writes;
        var appends = Enumerable.Range(0, 200).Select(i => _archive.Append($"G{i:000}", Bars(0, 50))).ToList();
        await Task.WhenAll(appends);
        long writes = _archive.Writes - writesBefore;
        Assert.True(writes < 100, $"{writes} writes for 200 appends: appends waiting together should share a write");
        await using var command = _database.CreateCommand("SELECT count(*), count(DISTINCT asset) FROM bars WHERE asset LIKE 'G%'");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(200L * 50, reader.GetInt64(0));
        Assert.Equal(200L, reader.GetInt64(1));
    }

    [Fact]
    public async Task A_failed_write_fails_every_append_it_carried()
    {
        await using var broken = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=nobody;Timeout=2");
        await using var archive = new PostgresBarArchive(broken, batchRows: 100, writers: 1);
        var appends = Enumerable.Range(0, 20).Select(i => archive.Append($"Z{i}", Bars(0, 3))).ToList();
        foreach (var append in appends)
        {
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => append);
        }
        // Every statement failed, and each is counted once (the alert on archive write errors reads this).
        Assert.InRange(archive.WriteFailures, 1, 20);
        Assert.Equal(0, archive.Writes);
    }

    [Fact]
    public async Task The_archive_publishes_its_writes_and_the_bars_they_carried_on_its_meter()
    {
        await using var host = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory meters = host.GetRequiredService<IMeterFactory>();
        await using var archive = new PostgresBarArchive(_database, batchRows: 5000, writers: 1, meters: meters);
        await archive.Append("M1", Bars(0, 7));
        await archive.Append("M2", Bars(0, 5));

        var observed = new Dictionary<string, long>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Meter.Name == PostgresBarArchive.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => observed[instrument.Name] = value);
            listener.Start();
            listener.RecordObservableInstruments();
        }
        Assert.Equal(archive.Writes, observed["marketintel_archive_writes_total"]);
        Assert.InRange(archive.Writes, 1, 2);
        Assert.Equal(12, observed["marketintel_archive_rows_total"]);
        Assert.Equal(0, observed["marketintel_archive_write_failures_total"]);
    }
}
