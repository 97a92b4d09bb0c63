using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using MarketIntel.Api.V1;
using Xunit.Abstractions;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// Chaos under load: three silos take a steady ingest and predictions while silos are SIGKILLed or SIGTERMed at
/// random and replaced, and Redis is restarted once. Afterwards every acknowledged bar is archived exactly once and
/// every asset's features equal the batch features of its archive; the report gives the error rate and p99 latency of
/// predictions during failovers (the seconds after each event) and between them. The suite runs it for about a minute;
/// benchmarks/chaos/run.sh runs it for longer (MARKETINTEL_CHAOS_SECONDS) and keeps the report.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ChaosTests(ITestOutputHelper output) : IDisposable
{
    private const int Assets = 12;
    private const int Silos = 3;
    private static readonly TimeSpan FailoverWindow = TimeSpan.FromSeconds(10);

    private readonly Servers _servers = new();
    private readonly List<SiloProcess> _all = [];
    private readonly List<SiloProcess> _live = [];
    private readonly List<(TimeSpan At, string What, bool Failure)> _events = [];
    private readonly List<(TimeSpan At, TimeSpan Took, bool Failed)> _predictions = [];
    private readonly Stopwatch _clock = new();
    private string _database = "";
    private int _started;

    private static TimeSpan Duration =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("MARKETINTEL_CHAOS_SECONDS"), CultureInfo.InvariantCulture, out int s) && s > 0 ? s : 60);

    private SiloProcess StartSilo()
    {
        var silo = SiloProcess.Start($"chaos{Interlocked.Increment(ref _started)}", _servers.Redis.Endpoint, _database, "--model", SiloProcess.DemoModel);
        lock (_all)
        {
            _all.Add(silo);
        }
        return silo;
    }

    private SiloProcess Pick(int asset, int failures)
    {
        lock (_live)
        {
            return _live[(asset + failures) % _live.Count];
        }
    }

    [Fact]
    public async Task Under_random_kills_stops_and_a_Redis_restart_every_acknowledged_bar_is_archived_once_and_features_stay_exact()
    {
        _database = _servers.MigratedDatabase("grid");
        var first = Enumerable.Range(0, Silos).Select(_ => StartSilo()).ToArray();
        await Task.WhenAll(first.Select(s => s.WaitReady(TimeSpan.FromSeconds(90))));
        _live.AddRange(first);
        var walks = Enumerable.Range(0, Assets).Select(ClusterLoad.Walk).ToArray();
        _clock.Start();

        // Paced so that the ingest lasts the whole run: each asset's 1500 bars in calls of 50.
        TimeSpan pace = Duration / (ClusterLoad.BarsPerAsset / 50.0);
        long acknowledged = 0;
        var ingest = ClusterLoad.Ingest(Pick, walks, n => Interlocked.Add(ref acknowledged, n), pace);
        using var stop = new CancellationTokenSource();
        var predict = Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Predict(stop.Token)));

        var random = new Random(29);
        bool redisRestarted = false;
        while (!ingest.IsCompleted)
        {
            await Task.WhenAny(ingest, Task.Delay(TimeSpan.FromSeconds(8)));
            if (ingest.IsCompleted)
            {
                break;
            }
            if (!redisRestarted && _clock.Elapsed > Duration / 2)
            {
                redisRestarted = true;
                Event("Redis killed");
                _servers.Redis.Kill();
                await Task.Delay(TimeSpan.FromSeconds(2));
                _servers.Redis.Resume();
                Event("Redis back", failure: false);
                continue;
            }
            SiloProcess victim;
            lock (_live)
            {
                victim = _live[random.Next(_live.Count)];
                _live.Remove(victim);
            }
            bool kill = random.Next(2) == 0;
            Event($"{(kill ? "SIGKILL" : "SIGTERM")} {victim.Name}");
            if (kill)
            {
                victim.Kill();
            }
            else
            {
                victim.Stop(TimeSpan.FromSeconds(30));
            }
            var replacement = StartSilo();
            await replacement.WaitReady(TimeSpan.FromSeconds(90));
            lock (_live)
            {
                _live.Add(replacement);
            }
            Event($"{replacement.Name} joined", failure: false);
        }
        await ingest.WaitAsync(TimeSpan.FromMinutes(5));
        await stop.CancelAsync();
        await predict;

        Report();
        Assert.True(_events.Count >= 2, "no failure was injected before the ingest ended");
        Assert.Equal((long)Assets * ClusterLoad.BarsPerAsset, acknowledged);
        await ClusterLoad.AssertArchived(_database, walks);
        await ClusterLoad.AssertFeaturesEqualCleanReplay(Pick(0, 0), walks, "after the chaos");
    }

    // A failure (a kill, a stop, Redis going) opens a failover window; a recovery (a silo joining) does not.
    private void Event(string what, bool failure = true)
    {
        lock (_events)
        {
            _events.Add((_clock.Elapsed, what, failure));
        }
        output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {what}");
    }

    private async Task Predict(CancellationToken stop)
    {
        int i = 0;
        while (!stop.IsCancellationRequested)
        {
            var asset = ClusterLoad.Symbol(i++ % Assets);
            TimeSpan at = _clock.Elapsed;
            long started = Stopwatch.GetTimestamp();
            bool failed = false;
            try
            {
                await Pick(i, 0).Client.PredictAsync(new PredictRequest { Asset = asset }, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stop);
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.NotFound && !stop.IsCancellationRequested)
            {
                failed = true;  // NOT_FOUND: an asset before its first bar, not a failure
            }
            catch (RpcException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException)
            {
            }
            lock (_predictions)
            {
                _predictions.Add((at, Stopwatch.GetElapsedTime(started), failed));
            }
            await Task.Delay(20, CancellationToken.None);
        }
    }

    // Error rate and p99 of predictions started within FailoverWindow after an event, and of the others.
    private void Report()
    {
        var events = _events.Where(e => e.Failure).Select(e => e.At).ToArray();
        bool During(TimeSpan at) => events.Any(e => at >= e && at < e + FailoverWindow);
        foreach (var (name, group) in new[] { ("during failovers", _predictions.Where(p => During(p.At)).ToList()), ("between failovers", _predictions.Where(p => !During(p.At)).ToList()) })
        {
            if (group.Count == 0)
            {
                output.WriteLine($"{name}: no predictions");
                continue;
            }
            var sorted = group.Select(p => p.Took.TotalMilliseconds).Order().ToArray();
            double p99 = sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(sorted.Length * 0.99) - 1)];
            output.WriteLine($"{name}: {group.Count} predictions, {group.Count(p => p.Failed)} failed ({100.0 * group.Count(p => p.Failed) / group.Count:0.00}%), p99 {p99:0.0} ms");
        }
        output.WriteLine($"run: {_clock.Elapsed.TotalSeconds:0} s, {events.Length} failures injected, {_started} silos started");
    }

    public void Dispose()
    {
        foreach (var silo in _all)
        {
            silo.Dispose();
        }
        _servers.Dispose();
    }
}
