using MarketIntel.Abstractions.Models;
using MarketIntel.Grains;
using MarketIntel.Storage.Postgres.Streaming;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace MarketIntel.Storage.Postgres.Tests;

/// <summary>
/// The retraining trigger stream on real PostgreSQL loses no request when a silo goes: a request sent while no silo
/// reads the queue waits in <c>stream_messages</c> and reaches the coordinator once a silo that reads it starts, and a
/// request whose delivery was under way on a silo that is killed reaches the coordinator through the silo that comes
/// back. Each request's row is deleted only once it was delivered.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class TriggerStreamTests(PostgresFixture postgres) : IDisposable
{
    // The silos run in this process: their configurator reaches the database and the agents' start through these fields.
    private static NpgsqlDataSource? s_database;
    private static bool s_agentsStopped;

    private readonly NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    public void Dispose() => _database.Dispose();

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton(s_database!);
            // A short visibility timeout: a request read by a silo that was killed is read again 2 s later.
            siloBuilder.AddPostgresTriggerStream(o => o.Configure(s =>
            {
                s.VisibilityTimeout = TimeSpan.FromSeconds(2);
                s.PollInterval = TimeSpan.FromMilliseconds(100);
            }));
            if (s_agentsStopped)
            {
                // A silo that sends but does not read the queue: as if every silo that reads it were down.
                siloBuilder.Services.Configure<StreamLifecycleOptions>(RetrainTriggerStreamNames.Provider,
                    o => o.StartupState = StreamLifecycleOptions.RunState.AgentsStopped);
            }
            siloBuilder.AddIncomingGrainCallFilter<CoordinatorCalls>();
            siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5");
        }
    }

    private Task<TestCluster> Start(string service, bool readsQueue)
    {
        s_database = _database;
        s_agentsStopped = !readsQueue;
        return OneSiloCluster.Start<Configurator>(service);
    }

    private static IRetrainTriggers Triggers(TestCluster cluster) =>
        ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services.GetRequiredService<IRetrainTriggers>();

    private async Task<long> Waiting(string table)
    {
        await using var command = _database.CreateCommand($"SELECT count(*) FROM {table}");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task WaitUntilEmpty(string table)
    {
        for (int i = 0; i < 1200 && await Waiting(table) > 0; i++)
        {
            await Task.Delay(50);
        }
        Assert.Equal(0, await Waiting(table));
    }

    // The jobs the model's coordinator in this cluster keeps: one per request it started.
    private static Task<IReadOnlyList<RetrainJob>> Jobs(TestCluster cluster, string name) =>
        cluster.Client.GetGrain<IRetrainCoordinatorGrain>(name).List(10);

    private static RetrainRequest Request(string reason) =>
        new($"stream-{Guid.NewGuid():N}", RetrainTrigger.Drift, reason, "drift") { Assets = ["MSFT"] };

    [Fact]
    public async Task A_request_sent_while_no_silo_reads_the_queue_waits_in_PostgreSQL_and_reaches_the_coordinator_once_one_does()
    {
        string service = $"trig-{Guid.NewGuid():N}";
        RetrainRequest request = Request("MSFT: 2 of 5 series drifting");
        TestCluster sender = await Start(service, readsQueue: false);
        try
        {
            await Triggers(sender).Send(request);
        }
        finally
        {
            await OneSiloCluster.Stop(sender);
        }
        Assert.Equal(1, await Waiting("stream_messages"));
        Assert.Empty(CoordinatorCalls.For(request.Name));

        TestCluster consumer = await Start(service, readsQueue: true);
        try
        {
            RetrainRequest delivered = Assert.Single(await CoordinatorCalls.WaitFor(request.Name)).Request;
            Assert.Equal((request.Name, request.Trigger, request.Reason, request.Client), (delivered.Name, delivered.Trigger, delivered.Reason, delivered.Client));
            Assert.Equal(["MSFT"], delivered.Assets);
            RetrainJob job = Assert.Single(await Jobs(consumer, request.Name));
            Assert.Equal((RetrainTrigger.Drift, request.Reason), (job.Request.Trigger, job.Request.Reason));
            await WaitUntilEmpty("stream_messages");
            Assert.Equal(0, await Waiting("stream_dead_letters"));
        }
        finally
        {
            await OneSiloCluster.Stop(consumer);
        }
    }

    [Fact]
    public async Task A_request_whose_delivery_was_under_way_on_a_killed_silo_reaches_the_coordinator_through_the_silo_that_comes_back()
    {
        string service = $"trig-{Guid.NewGuid():N}";
        RetrainRequest request = Request("MSFT: 3 of 5 series drifting");
        var never = new TaskCompletionSource();
        CoordinatorCalls.Hold = r => r.Name == request.Name ? never.Task : Task.CompletedTask;
        TestCluster first = await Start(service, readsQueue: true);
        string firstSilo = first.Primary!.SiloAddress.ToString();
        try
        {
            await Triggers(first).Send(request);
            // The first silo read the request and its delivery is open: the row stays until a delivery completes.
            Assert.Equal(firstSilo, (await CoordinatorCalls.WaitFor(request.Name))[0].Silo);
            Assert.Equal(1, await Waiting("stream_messages"));
            CoordinatorCalls.Hold = null;
            await first.KillSiloAsync(first.Primary);
        }
        finally
        {
            CoordinatorCalls.Hold = null;
            await first.DisposeAsync();
        }

        TestCluster second = await Start(service, readsQueue: true);
        try
        {
            string secondSilo = second.Primary!.SiloAddress.ToString();
            var received = await CoordinatorCalls.WaitFor(request.Name, r => r.Any(call => call.Silo == secondSilo));
            Assert.Equal(request.Reason, Assert.Single(received, call => call.Silo == secondSilo).Request.Reason);
            RetrainJob job = Assert.Single(await Jobs(second, request.Name));
            Assert.Equal(request.Reason, job.Request.Reason);
            await WaitUntilEmpty("stream_messages");
        }
        finally
        {
            never.TrySetResult();
            await OneSiloCluster.Stop(second);
        }
    }
}
