using System.Diagnostics.Metrics;
using System.Net;
using MarketIntel.Cluster.Tests;
using MarketIntel.Server.Cluster;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace MarketIntel.Ops.Tests;

/// <summary>How one readiness verdict is reached and shared: no real servers, a clock the test moves.</summary>
public sealed class ReadinessVerdictTests
{
    private static Readiness.Dependency Counted(string name, Func<string?> answer, Action counted) =>
        new(name, _ =>
        {
            counted();
            return Task.FromResult(answer());
        });

    [Fact]
    public async Task One_verdict_answers_every_probe_for_a_second_and_the_first_probe_after_it_checks_again()
    {
        var clock = new FakeTimeProvider();
        int checks = 0;
        var readiness = new Readiness([Counted("redis", () => null, () => checks++)], clock);

        for (int probe = 0; probe < 10; probe++)
        {
            Assert.True((await readiness.Check()).IsReady);
            clock.Advance(TimeSpan.FromMilliseconds(99));
        }
        Assert.Equal(1, checks);

        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.True((await readiness.Check()).IsReady);
        Assert.Equal(2, checks);
    }

    [Fact]
    public async Task A_failing_dependency_is_named_with_its_reason_and_the_healthy_ones_are_not()
    {
        var readiness = new Readiness(
        [
            new("silo", _ => Task.FromResult<string?>(null)),
            new("postgresql", _ => throw new InvalidOperationException("connection refused\n   at a stack frame")),
            new("models", _ => Task.FromResult<string?>("direction/abc not loaded")),
        ], new FakeTimeProvider());

        Readiness.Verdict verdict = await readiness.Check();

        Assert.False(verdict.IsReady);
        // The body names the kind of error only (the probe answers anyone; messages name hosts and ports).
        Assert.Equal("not ready\npostgresql: InvalidOperationException\nmodels: direction/abc not loaded\n", verdict.Body);
    }

    [Fact]
    public async Task The_log_gets_the_whole_error_once_when_a_dependency_starts_failing_not_at_every_check()
    {
        var clock = new FakeTimeProvider();
        var log = new ListLogger();
        bool down = true;
        var readiness = new Readiness([new("redis", _ => down ? throw new InvalidOperationException("UnableToConnect on 10.1.2.3:6379") : Task.FromResult<string?>(null))],
            clock, logger: log);

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("not ready\nredis: InvalidOperationException\n", (await readiness.Check()).Body);
            clock.Advance(Readiness.CacheFor);
        }
        down = false;
        Assert.True((await readiness.Check()).IsReady);
        clock.Advance(Readiness.CacheFor);
        down = true;
        await readiness.Check();

        Assert.Equal(2, log.Lines.Count);
        Assert.All(log.Lines, line => Assert.Contains("UnableToConnect on 10.1.2.3:6379", line, StringComparison.Ordinal));
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add($"{formatter(state, exception)} {exception?.Message}");
    }

    [Fact]
    public async Task A_dependency_that_does_not_answer_within_the_timeout_is_named_as_not_answering()
    {
        var clock = new FakeTimeProvider();
        var never = new TaskCompletionSource<string?>();
        var readiness = new Readiness([new("redis", _ => never.Task)], clock);

        Task<Readiness.Verdict> pending = readiness.Check();
        Assert.False(pending.IsCompleted);
        // A probe arriving meanwhile waits for the same round of checks rather than starting another.
        Assert.Same(pending, readiness.Check());
        clock.Advance(Readiness.CheckTimeout);

        Assert.Equal("not ready\nredis: no answer within 2 s\n", (await pending).Body);
    }

    [Fact]
    public async Task The_gauge_reports_the_last_verdict_per_dependency_and_a_stale_one_starts_the_next_check()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var clock = new FakeTimeProvider();
        string? redisDown = null;
        int checks = 0;
        var readiness = new Readiness(
            [Counted("silo", () => null, () => checks++), Counted("redis", () => redisDown, () => { })],
            clock, services.GetRequiredService<IMeterFactory>());
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == Readiness.MeterName && instrument.Name == "marketintel_ready")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) => seen[(string)tags[0].Value!] = value);
        listener.Start();

        await readiness.Check();
        listener.RecordObservableInstruments();
        Assert.Equal(new Dictionary<string, long> { ["silo"] = 1, ["redis"] = 1 }, seen);

        redisDown = "connection refused";
        clock.Advance(Readiness.CacheFor);
        // A scrape after a second starts a new round (these checks answer at once, so it reports its verdict); the scrape
        // after it reuses that verdict.
        listener.RecordObservableInstruments();
        Assert.Equal(new Dictionary<string, long> { ["silo"] = 1, ["redis"] = 0 }, seen);
        listener.RecordObservableInstruments();
        Assert.Equal(new Dictionary<string, long> { ["silo"] = 1, ["redis"] = 0 }, seen);
        Assert.Equal(2, checks);
    }
}

/// <summary><c>GET /readyz</c> of real <c>marketintel serve</c> processes, embedded and in cluster mode.</summary>
[Collection(OpsGroup.Name)]
public sealed class ReadinessTests : IDisposable
{
    private readonly List<SiloProcess> _silos = [];
    private readonly List<IDisposable> _servers = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private async Task<(HttpStatusCode Status, string Body)> Probe(SiloProcess silo)
    {
        using var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{silo.HttpPort}/readyz"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    // Readiness follows a change within a second or two (the cached verdict, the client noticing a lost connection);
    // the deadline is generous for a loaded machine.
    private async Task<(HttpStatusCode Status, string Body)> ProbeUntil(SiloProcess silo, Func<(HttpStatusCode Status, string Body), bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var answer = await Probe(silo);
        while (!until(answer) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            answer = await Probe(silo);
        }
        return answer;
    }

    [Fact]
    public async Task An_embedded_silo_is_ready_once_started()
    {
        var silo = SiloProcess.StartEmbedded("embedded");
        _silos.Add(silo);
        await silo.WaitReady(TimeSpan.FromSeconds(90));

        var (status, body) = await ProbeUntil(silo, a => a.Status == HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ready\n", body);
    }

    [Fact]
    public async Task In_cluster_mode_a_stopped_Redis_or_PostgreSQL_makes_the_silo_unready_naming_it_until_it_returns()
    {
        var cluster = await OneSiloCluster.Start();
        _servers.Add(cluster);
        var (silo, redis, postgres) = (cluster.Silo, cluster.Redis, cluster.Postgres);
        Assert.Equal((HttpStatusCode.OK, "ready\n"), await ProbeUntil(silo, a => a.Status == HttpStatusCode.OK));

        redis.Kill();
        var (status, body) = await ProbeUntil(silo, a => a.Status != HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.StartsWith("not ready\nredis: ", body, StringComparison.Ordinal);
        Assert.DoesNotContain("postgresql:", body, StringComparison.Ordinal);
        // The liveness probe still answers: the process is fine, a dependency is not.
        Assert.Equal("ok\n", await _http.GetStringAsync(new Uri($"http://127.0.0.1:{silo.HttpPort}/healthz")));

        redis.Resume();
        Assert.Equal((HttpStatusCode.OK, "ready\n"), await ProbeUntil(silo, a => a.Status == HttpStatusCode.OK));

        postgres.Stop();
        (status, body) = await ProbeUntil(silo, a => a.Status != HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.StartsWith("not ready\npostgresql: ", body, StringComparison.Ordinal);
        Assert.DoesNotContain("redis:", body, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var silo in _silos)
        {
            silo.Dispose();
        }
        foreach (var server in _servers)
        {
            server.Dispose();
        }
        _http.Dispose();
    }
}
