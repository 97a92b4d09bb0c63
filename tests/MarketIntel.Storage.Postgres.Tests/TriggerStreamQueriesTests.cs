using Npgsql;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// The trigger stream's statements (migration 0011), run as Orleans' ADO.NET stream provider runs them: read by key
/// from <c>orleansquery</c>, with its parameter names, read back by its column names. A read message is hidden and
/// carries a receipt; only the current receipt's confirmation deletes it; a release or a failed delivery with reads
/// left makes it visible again; one read too often or expired moves to the dead letters, which go after their time.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class TriggerStreamQueriesTests(PostgresFixture postgres) : IDisposable
{
    private const int MaxAttempts = 3;

    private readonly NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    public void Dispose() => _database.Dispose();

    private async Task<List<Dictionary<string, object>>> Run(string key, params (string Name, object Value)[] parameters)
    {
        string sql;
        await using (var query = _database.CreateCommand("SELECT QueryText FROM OrleansQuery WHERE QueryKey = $1"))
        {
            query.Parameters.AddWithValue(key);
            sql = (string)(await query.ExecuteScalarAsync())!;
        }
        await using var command = _database.CreateCommand(sql);
        foreach ((string name, object value) in new (string, object)[] { ("ServiceId", "svc"), ("ProviderId", "retrain-triggers"), ("QueueId", "q-0") }.Concat(parameters))
        {
            command.Parameters.Add(new NpgsqlParameter(name, value));
        }
        var rows = new List<Dictionary<string, object>>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, reader.GetValue));
        }
        return rows;
    }

    private async Task<long> Queue(byte[] payload, int expirySeconds = 3600) =>
        (long)Assert.Single(await Run("QueueStreamMessageKey", ("Payload", payload), ("ExpiryTimeout", expirySeconds)))["MessageId"];

    private Task<List<Dictionary<string, object>>> Get(int evictionInterval = 3600, int removalTimeout = 600, int visibilityTimeout = 60) =>
        Run("GetStreamMessagesKey", ("MaxCount", 10), ("MaxAttempts", MaxAttempts), ("VisibilityTimeout", visibilityTimeout), ("RemovalTimeout", removalTimeout),
            ("EvictionInterval", evictionInterval), ("EvictionBatchSize", 100));

    private async Task<long[]> Confirm(string items) =>
        [.. (await Run("ConfirmStreamMessagesKey", ("Items", items))).Select(r => (long)r["MessageId"])];

    private Task Fail(long id) =>
        Run("FailStreamMessageKey", ("MessageId", id), ("MaxAttempts", MaxAttempts), ("RemovalTimeout", 600));

    private async Task<long[]> Ids(string table)
    {
        await using var command = _database.CreateCommand($"SELECT message_id FROM {table} ORDER BY message_id");
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }
        return [.. ids];
    }

    [Fact]
    public async Task A_read_message_is_hidden_and_only_its_current_receipt_deletes_it()
    {
        long first = await Queue([1, 2, 3]);
        long second = await Queue([4]);
        Assert.True(second > first);

        var read = await Get();
        Assert.Equal([first, second], read.Select(r => (long)r["MessageId"]));
        Assert.All(read, r => Assert.Equal(1, r["Dequeued"]));
        Assert.Equal(new byte[] { 1, 2, 3 }, read[0]["Payload"]);
        Assert.Equal(("svc", "retrain-triggers", "q-0"), ((string)read[0]["ServiceId"], (string)read[0]["ProviderId"], (string)read[0]["QueueId"]));
        Assert.True((DateTime)read[0]["VisibleOn"] > (DateTime)read[0]["ModifiedOn"]);
        Assert.Empty(await Get());

        Assert.Empty(await Confirm($"{first}:2"));
        Assert.Equal([first, second], await Ids("stream_messages"));
        Assert.Equal([first], await Confirm($"{first}:1"));
        Assert.Equal([second], await Ids("stream_messages"));
    }

    [Fact]
    public async Task A_message_whose_reader_never_confirms_is_read_again_once_hidden_long_enough_and_the_first_receipt_misses()
    {
        // As a silo that dies holding it leaves it: with a visibility timeout of 0 its time is up at once.
        long id = await Queue([8]);
        Assert.Equal(1, Assert.Single(await Get(visibilityTimeout: 0))["Dequeued"]);
        Assert.Equal(2, Assert.Single(await Get())["Dequeued"]);
        Assert.Empty(await Confirm($"{id}:1"));
        Assert.Equal([id], await Confirm($"{id}:2"));
        Assert.Empty(await Ids("stream_messages"));
    }

    [Fact]
    public async Task A_released_message_is_read_again_at_once_with_a_new_receipt_and_the_old_one_no_longer_deletes_it()
    {
        long id = await Queue([7]);
        Assert.Equal(1, Assert.Single(await Get())["Dequeued"]);
        Assert.Equal([id], await Confirm($"{id}:-1"));
        Assert.Equal(2, Assert.Single(await Get())["Dequeued"]);
        Assert.Empty(await Confirm($"{id}:1"));
        Assert.Equal([id], await Ids("stream_messages"));
    }

    [Fact]
    public async Task A_failed_delivery_with_reads_left_is_read_again_and_one_read_MaxAttempts_times_moves_to_the_dead_letters()
    {
        long id = await Queue([9]);
        for (int read = 1; read < MaxAttempts; read++)
        {
            Assert.Equal(read, Assert.Single(await Get())["Dequeued"]);
            await Fail(id);
        }
        Assert.Equal(MaxAttempts, Assert.Single(await Get())["Dequeued"]);
        await Fail(id);
        Assert.Empty(await Ids("stream_messages"));
        Assert.Equal([id], await Ids("stream_dead_letters"));
        Assert.Empty(await Get());
    }

    [Fact]
    public async Task An_expired_message_is_never_read_and_moves_to_the_dead_letters_which_go_after_their_removal_time()
    {
        long expired = await Queue([5], expirySeconds: 0);
        long live = await Queue([6]);
        // The first read of the queue is due to evict.
        Assert.Equal([live], (await Get(evictionInterval: 0, removalTimeout: 0)).Select(r => (long)r["MessageId"]));
        Assert.Equal([live], await Ids("stream_messages"));
        Assert.Equal([expired], await Ids("stream_dead_letters"));
        await Get(evictionInterval: 0, removalTimeout: 0);
        Assert.Empty(await Ids("stream_dead_letters"));
    }

    [Fact]
    public async Task Eviction_runs_at_most_once_an_interval_per_queue()
    {
        Assert.Empty(await Get(evictionInterval: 3600));
        long expired = await Queue([5], expirySeconds: 0);
        Assert.Empty(await Get(evictionInterval: 3600));
        Assert.Equal([expired], await Ids("stream_messages"));
    }

    [Fact]
    public void Trigger_stream_settings_out_of_range_are_refused_by_name()
    {
        var options = new Streaming.TriggerStreamOptions
        {
            VisibilityTimeout = TimeSpan.FromMilliseconds(500),
            MaxAttempts = 0,
            ExpiryTimeout = TimeSpan.FromDays(31),
            DeadLetterRetention = TimeSpan.Zero,
            PollInterval = TimeSpan.FromMinutes(2),
        };
        var result = new Streaming.TriggerStreamOptionsValidator().Validate(null, options);
        Assert.Equal(
            [
                "Postgres:TriggerStream:VisibilityTimeout 00:00:00.5000000 must be between 00:00:01 and 01:00:00",
                "Postgres:TriggerStream:MaxAttempts 0 must be between 1 and 1000",
                "Postgres:TriggerStream:ExpiryTimeout 31.00:00:00 must be at least VisibilityTimeout (00:00:00.5000000) and at most 30.00:00:00",
                "Postgres:TriggerStream:DeadLetterRetention 00:00:00 must be between 00:01:00 and 365.00:00:00",
                "Postgres:TriggerStream:PollInterval 00:02:00 must be between 00:00:00.050 and 00:01:00",
            ],
            result.Failures);
        Assert.True(new Streaming.TriggerStreamOptionsValidator().Validate(null, new Streaming.TriggerStreamOptions()).Succeeded);
    }
}
