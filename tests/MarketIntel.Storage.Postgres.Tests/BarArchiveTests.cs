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
            Task append = archive.Append($"SLOW{i}", 0, Bars(0, 100));
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
        await archive.Append("SLOW9", 0, Bars(0, 100));
        Assert.Equal(100, (await ReadAll("SLOW0")).Count);
    }

    [Fact]
    public async Task An_append_by_an_activation_that_a_newer_claim_replaced_stores_nothing_and_says_so()
    {
        long older = await _archive.Claim("FENCED");
        await _archive.Append("FENCED", older, Bars(0, 10));
        long newer = await _archive.Claim("FENCED");
        Assert.Equal(older + 1, newer);

        // The older activation goes on writing after the newer one claimed (and read) the asset: refused.
        var stale = await Assert.ThrowsAsync<MarketIntel.Abstractions.Storage.StaleArchiveWriterException>(
            () => _archive.Append("FENCED", older, Bars(10 * 60_000, 5)));
        Assert.Equal((older, newer), (stale.Epoch, stale.Current));
        Assert.Contains($"FENCED: writer epoch {older} was replaced by a newer activation's claim (epoch {newer})", stale.Message, StringComparison.Ordinal);
        Assert.Equal(1, _archive.StaleAppends);

        // The newer one's bars go in, also when both write in the same group commit; the older one's never do.
        var together = new[] { _archive.Append("FENCED", older, Bars(20 * 60_000, 3)), _archive.Append("FENCED", newer, Bars(10 * 60_000, 5)) };
        await Assert.ThrowsAsync<MarketIntel.Abstractions.Storage.StaleArchiveWriterException>(() => together[0]);
        await together[1];
        Assert.Equal(Bars(0, 10).Concat(Bars(10 * 60_000, 5)).ToList(), await ReadAll("FENCED"));
        // An asset never claimed takes writers without a claim (epoch 0) until its first claim.
        await _archive.Append("UNCLAIMED", 0, Bars(0, 2));
        Assert.Equal(2, (await ReadAll("UNCLAIMED")).Count);
    }

    [Fact]
    public async Task Checkpoints_move_forward_only_are_kept_by_the_current_writer_only_and_reads_start_after_them()
    {
        Assert.Null(await _archive.ReadCheckpoint("CP"));
        long writer = await _archive.Claim("CP");
        await _archive.Append("CP", writer, Bars(0, 10));
        await _archive.SaveCheckpoint("CP", writer, through: Bars(0, 10)[5].Timestamp, [1, 2, 3]);
        await _archive.SaveCheckpoint("CP", writer, through: Bars(0, 10)[2].Timestamp, [9]);  // older: ignored
        var kept = await _archive.ReadCheckpoint("CP");
        Assert.Equal(Bars(0, 10)[5].Timestamp, kept!.Through);
        Assert.Equal(new byte[] { 1, 2, 3 }, kept.State);

        // A replaced writer's checkpoint is dropped, even a later one.
        long newer = await _archive.Claim("CP");
        await _archive.SaveCheckpoint("CP", writer, through: Bars(0, 10)[9].Timestamp, [7]);
        Assert.Equal(new byte[] { 1, 2, 3 }, (await _archive.ReadCheckpoint("CP"))!.State);
        await _archive.SaveCheckpoint("CP", newer, through: Bars(0, 10)[9].Timestamp, [8]);
        Assert.Equal(new byte[] { 8 }, (await _archive.ReadCheckpoint("CP"))!.State);

        // The bars after a checkpoint's last one.
        var after = new List<StoredBar>();
        await foreach (var bar in _archive.Read("CP", after: Bars(0, 10)[5].Timestamp))
        {
            after.Add(bar);
        }
        Assert.Equal(Bars(0, 10).Skip(6).ToList(), after);
    }

    [Fact]
    public async Task Appended_bars_read_back_equal_and_in_timestamp_order()
    {
        var later = Bars(1_000_000, 3);
        var earlier = Bars(0, 5);
        await _archive.Append("X", 0, later);
        await _archive.Append("X", 0, earlier);
        Assert.Equal(earlier.Concat(later).ToList(), await ReadAll("X"));
        Assert.Empty(await ReadAll("NOTHING"));
    }

    [Fact]
    public async Task Appending_the_same_bars_again_stores_each_once()
    {
        var bars = Bars(0, 10);
        await _archive.Append("Y", 0, bars);
        await _archive.Append("Y", 0, bars.Take(4).ToList());
        await _archive.Append("Y", 0, bars);
        Assert.Equal(bars, await ReadAll("Y"));
    }

    [Fact]
    public async Task Concurrent_appends_of_many_assets_share_writes_and_all_arrive()
    {
        long writesBefore = _archive.Writes;
        var appends = Enumerable.Range(0, 200).Select(i => _archive.Append($"G{i:000}", 0, Bars(0, 50))).ToList();
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
        var appends = Enumerable.Range(0, 20).Select(i => archive.Append($"Z{i}", 0, Bars(0, 3))).ToList();
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
        await archive.Append("M1", 0, Bars(0, 7));
        await archive.Append("M2", 0, Bars(0, 5));

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
