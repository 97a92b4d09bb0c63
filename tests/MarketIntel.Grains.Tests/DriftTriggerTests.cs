using System.Collections.Concurrent;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;
using MarketIntel.Grains.Retraining.Triggers;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// The drift trigger, end to end on embedded defaults: an asset whose drift alarm is raised sends its model name a
/// Drift request on the trigger stream, whose consumer passes it to the model's coordinator, which starts a job, with the asset and how
/// many of its series drift; with <c>Grid:Retraining:Triggers:Drift</c> off, the alarm sends nothing.
/// </summary>
public sealed class DriftTriggerTests
{
    private static readonly ReferenceProfile Profile = DriftSeries.Profile(DriftSeries.Walk(seed: 1, count: 4000, sigma: 0.01));

    /// <summary>A model name served by a cluster of the tests.</summary>
    public interface ITriggerCluster
    {
        TestCluster Cluster { get; }

        string Model { get; }
    }

    /// <summary>
    /// A one-silo cluster whose drift windows of 100 bars are evaluated every 10, serving a walk model with a calm
    /// reference, with the drift trigger as <see cref="Drift"/> says and the coordinator's calls watched.
    /// </summary>
    public abstract class TriggerCluster<TSelf> : DriftCluster<TSelf>, ITriggerCluster
        where TSelf : TriggerCluster<TSelf>
    {
        /// <summary>Grid:Retraining:Triggers:Drift in this fixture's silo.</summary>
        protected abstract bool Drift { get; }

        /// <summary>The model name this fixture serves (one per fixture: requests are told apart by it).</summary>
        public abstract string Model { get; }

        protected override void Grid(GridOptions options)
        {
            options.Drift.Window = 100;
            options.Drift.EvaluateEveryBars = 10;
            options.Drift.FlushInterval = TimeSpan.FromMilliseconds(100);
        }

        protected override void Silo(ISiloBuilder silo)
        {
            bool drift = Drift;
            silo.Services.Configure<DriftTriggerOptions>(o => o.Drift = drift);
            silo.AddIncomingGrainCallFilter<CoordinatorCalls>();
        }

        protected override async Task Seed(IGrainFactory grains)
        {
            byte[] bytes = DriftSeries.Model(out var model);
            model.Dispose();
            await grains.GetGrain<IModelRegistryGrain>(0).Register(
                new ModelRegistration(Model, "v1", bytes, DriftSeries.Lineage(Profile, accuracy: 0.5, logLoss: 0.69), null, null, "test"));
        }
    }

    public sealed class On : TriggerCluster<On>
    {
        protected override bool Drift => true;

        public override string Model => "trigger-on";
    }

    public sealed class Off : TriggerCluster<Off>
    {
        protected override bool Drift => false;

        public override string Model => "trigger-off";
    }

    /// <summary>Feeds an asset of <paramref name="fixture"/>'s model a walk three times as volatile as the reference; returns the asset and its raised alarm.</summary>
    internal static async Task<(string Asset, ModelAuditRecord Raised)> RaiseAlarm(ITriggerCluster fixture)
    {
        var events = new ConcurrentQueue<ModelAuditRecord>();
        var silo = (InProcessSiloHandle)fixture.Cluster.Primary!;
        using IDisposable listening = silo.SiloHost.Services.GetRequiredService<SiloModelEvents>().Listen(e => events.Enqueue(e.Change));
        string asset = $"trigger-{Guid.NewGuid():N}";
        IAssetGrain grain = fixture.Cluster.Client.GetGrain<IAssetGrain>(asset);
        await grain.AssignModel(new ModelRef(fixture.Model, "v1"));
        BarSeries walk = DriftSeries.Walk(seed: 9, count: 200, sigma: 0.03);
        for (int at = 0; at < 200; at += 50)
        {
            Assert.Equal(0, (await grain.AddBars(DriftSeries.Bars(walk, at, 50))).Rejected);
        }
        for (int i = 0; i < 600; i++)
        {
            if (events.FirstOrDefault(e => e.Action == DriftEvents.Raised && e.Detail.Contains($"\"asset\":\"{asset}\"", StringComparison.Ordinal)) is { } raised)
            {
                return (asset, raised);
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"no drift alarm for {asset} within 30 s");
    }

    public sealed class WhenOn(On fixture) : IClassFixture<On>
    {
        [Fact]
        public async Task A_raised_drift_alarm_reaches_the_coordinator_as_a_Drift_request_saying_which_asset_and_how_many_series_drift()
        {
            (string asset, ModelAuditRecord raised) = await RaiseAlarm(fixture);
            int drifting = JsonDocument.Parse(raised.Detail).RootElement.GetProperty("series").GetArrayLength();
            int series = DriftSeries.Features.Length + 1;  // the model's inputs and its prediction

            RetrainRequest request = Assert.Single(await CoordinatorCalls.WaitFor(fixture.Model)).Request;
            Assert.Equal((fixture.Model, RetrainTrigger.Drift, "drift"), (request.Name, request.Trigger, request.Client));
            Assert.InRange(drifting, 1, series);
            Assert.Equal($"{asset}: {drifting} of {series} series drifting", request.Reason);
            Assert.Null(request.Assets);
            Assert.False(request.Force);
            RetrainJob job = Assert.Single(await fixture.Cluster.Client.GetGrain<IRetrainCoordinatorGrain>(fixture.Model).List(10));
            Assert.Equal(request, job.Request);
        }
    }

    public sealed class WhenOff(Off fixture) : IClassFixture<Off>
    {
        [Fact]
        public async Task A_raised_drift_alarm_sends_nothing_when_the_drift_trigger_is_off()
        {
            await RaiseAlarm(fixture);
            // A request sent on the same stream after the alarm arrives after anything the alarm sent (one stream is
            // delivered in order): once it is there, the alarm's turn to send has passed.
            var silo = (InProcessSiloHandle)fixture.Cluster.Primary!;
            var marker = new RetrainRequest(fixture.Model, RetrainTrigger.Manual, "marker", "test");
            await silo.SiloHost.Services.GetRequiredService<IRetrainTriggers>().Send(marker);
            var received = await CoordinatorCalls.WaitFor(fixture.Model);
            Assert.Equal([marker], received.Select(r => r.Request));
            // Had the alarm sent a request, it would have started the model's job and held the marker back.
            RetrainJob job = Assert.Single(await fixture.Cluster.Client.GetGrain<IRetrainCoordinatorGrain>(fixture.Model).List(10));
            Assert.Equal(marker, job.Request);
        }
    }
}
