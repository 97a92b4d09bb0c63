using System.Diagnostics.Metrics;
using MarketIntel.Abstractions;
using MarketIntel.Cache.Redis.Hosting;
using MarketIntel.Grains;
using MarketIntel.Server.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace MarketIntel.Server.Cluster;

/// <summary>
/// What <c>GET /readyz</c> answers: whether this silo should get traffic. It is ready when the silo is
/// <see cref="SiloStatus.Active"/> in the cluster's membership, the configured model files and the registry's default
/// model are loaded on it, and, in cluster mode, PostgreSQL and Redis answer. A load balancer or Kubernetes probes it
/// every second or so on every silo, so one verdict serves every probe for <see cref="CacheFor"/> and probes that
/// arrive while a check runs share it: the servers see at most one check per silo per second whatever the probe rate.
/// The verdict is also on <c>/metrics</c> as <c>marketintel_ready{dependency}</c> (1 answering, 0 failing), for the
/// readiness alert: a scrape reports the last verdict and starts a new round when it is stale.
/// </summary>
internal sealed partial class Readiness
{
    /// <summary>How long one verdict answers every probe.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    /// <summary>How long a dependency may take to answer before it counts as failing.</summary>
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyList<Dependency> _dependencies;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private Task<Verdict>? _verdict;
    private Task<Verdict>? _decided;
    private HashSet<string> _failing = new(StringComparer.Ordinal);
    private readonly ILogger? _logger;
    private long _decidedAt;

    /// <summary>The dependencies of the silo composed in <paramref name="services"/>, with the verdict published on its meter.</summary>
    public Readiness(IServiceProvider services)
        : this(DependenciesOf(services), TimeProvider.System, services.GetRequiredService<IMeterFactory>(), services.GetRequiredService<ILogger<Readiness>>())
    {
    }

    /// <summary>The meter the verdict is published on.</summary>
    public const string MeterName = "MarketIntel.Readiness";

    internal Readiness(IReadOnlyList<Dependency> dependencies, TimeProvider time, IMeterFactory? meters = null, ILogger? logger = null)
    {
        _dependencies = dependencies;
        _time = time;
        _logger = logger;
        // Measured as long: the export publishes long and double instruments only.
        meters?.Create(MeterName).CreateObservableGauge("marketintel_ready", Observe, unit: null,
            "Readiness of this silo by dependency (silo, models, postgresql, redis): 1 answering, 0 failing, as GET /readyz last found");
    }

    /// <summary>One thing readiness needs: its name as the body reports it, and a check that returns null when it is fine or why it is not.</summary>
    internal sealed record Dependency(string Name, Func<CancellationToken, Task<string?>> Check);

    /// <summary>The outcome of one round of checks: the failing dependencies, by name, with the reason each gave.</summary>
    internal sealed record Verdict(IReadOnlyList<(string Name, string Reason)> Failures)
    {
        public bool IsReady => Failures.Count == 0;

        /// <summary>The probe's body: <c>ready</c>, or <c>not ready</c> and one <c>name: reason</c> line per failing dependency.</summary>
        public string Body => IsReady ? "ready\n" : "not ready\n" + string.Concat(Failures.Select(f => $"{f.Name}: {f.Reason}\n"));
    }

    /// <summary>The verdict at most <see cref="CacheFor"/> old, or the one being reached now.</summary>
    public Task<Verdict> Check()
    {
        lock (_lock)
        {
            if (_verdict is null || (_verdict.IsCompleted && _time.GetElapsedTime(_decidedAt) >= CacheFor))
            {
                if (_verdict is { IsCompletedSuccessfully: true })
                {
                    _decided = _verdict;
                }
                _verdict = Decide();
            }
            return _verdict;
        }
    }

    // The last verdict reached, one series per dependency; a stale one starts the next round for the next scrape.
    private IEnumerable<Measurement<long>> Observe()
    {
        Task<Verdict> verdict = Check();
        Task<Verdict>? decided;
        lock (_lock)
        {
            decided = verdict.IsCompletedSuccessfully ? verdict : _decided;
        }
        if (decided is null)
        {
            return [];
        }
        var failing = decided.Result.Failures.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        return _dependencies.Select(d => new Measurement<long>(failing.Contains(d.Name) ? 0 : 1, new KeyValuePair<string, object?>("dependency", d.Name)));
    }

    /// <summary>Answers a probe: 200 and <c>ready</c>, or 503 naming each failing dependency.</summary>
    public async Task Answer(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        Verdict verdict = await Check();
        http.Response.StatusCode = verdict.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        http.Response.ContentType = "text/plain; charset=utf-8";
        // A proxy must not answer a later probe with this one.
        http.Response.Headers.CacheControl = "no-store";
        await http.Response.WriteAsync(verdict.Body, http.RequestAborted);
    }

    private async Task<Verdict> Decide()
    {
        (string Name, string? Reason, Exception? Error)[] outcomes = await Task.WhenAll(_dependencies.Select(Run));
        var failing = outcomes.Where(o => o.Reason is not null).ToList();
        lock (_lock)
        {
            _decidedAt = _time.GetTimestamp();
            // The log gets the whole error once, when a dependency starts failing, not once a second while it fails.
            foreach (var (name, reason, error) in failing.Where(f => !_failing.Contains(f.Name)))
            {
                if (_logger is not null)
                {
                    LogFailing(_logger, name, reason!, error);
                }
            }
            _failing = failing.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        }
        return new Verdict([.. failing.Select(o => (o.Name, o.Reason!))]);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not ready: {Dependency} failing: {Reason}")]
    private static partial void LogFailing(ILogger logger, string dependency, string reason, Exception? error);

    // A dependency that throws or does not answer in time is failing. The probe answers anyone, so its body names the
    // kind of error only: client libraries' messages name hosts and ports; the log gets the whole error. The wait is cut
    // at the timeout even where a client library takes no token (Redis' PING).
    private async Task<(string Name, string? Reason, Exception? Error)> Run(Dependency dependency)
    {
        using var timeout = new CancellationTokenSource(CheckTimeout, _time);
        try
        {
            return (dependency.Name, await dependency.Check(timeout.Token).WaitAsync(timeout.Token), null);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
        {
            return (dependency.Name, $"no answer within {CheckTimeout.TotalSeconds:0} s", e);
        }
        catch (Exception e)
        {
            return (dependency.Name, e.GetType().Name, e);
        }
    }

    /// <summary>The silo's membership status and models always; PostgreSQL and Redis where cluster mode registered them.</summary>
    private static Dependency[] DependenciesOf(IServiceProvider services)
    {
        var dependencies = new List<Dependency>
        {
            new("silo", _ => Task.FromResult(SiloStatusProblem(services))),
            Models(services),
        };
        // Cluster mode registered PostgreSQL's data source; Redis comes with it.
        if (services.GetService<NpgsqlDataSource>() is { } database)
        {
            dependencies.Add(new("postgresql", async cancel =>
            {
                await using var command = database.CreateCommand("SELECT 1");
                await command.ExecuteScalarAsync(cancel);
                return null;
            }));
            dependencies.Add(Redis(services));
        }
        return [.. dependencies];
    }

    // A connection of its own, opened at the first probe, that reconnects by itself (the cache's is the cache's business).
    private static Dependency Redis(IServiceProvider services)
    {
        var options = ConfigurationOptions.Parse(services.GetRequiredService<IOptions<RedisCacheOptions>>().Value.Redis);
        options.AbortOnConnectFail = false;
        var connection = new Lazy<Task<ConnectionMultiplexer>>(() => ConnectionMultiplexer.ConnectAsync(options));
        services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(() =>
        {
            if (connection.IsValueCreated && connection.Value.IsCompletedSuccessfully)
            {
                connection.Value.Result.Dispose();
            }
        });
        return new Dependency("redis", async cancel =>
        {
            ConnectionMultiplexer redis = await connection.Value.WaitAsync(cancel);
            await redis.GetDatabase().PingAsync();
            return null;
        });
    }

    // Joined means Active: a silo still Joining cannot host grains, and one ShuttingDown or Dead must get no new traffic.
    private static string? SiloStatusProblem(IServiceProvider services)
    {
        SiloAddress self = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        SiloStatus status = services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.GetSiloStatus(self);
        return status == SiloStatus.Active ? null : $"{status} in the cluster's membership, not Active";
    }

    // The models this silo serves without asking: the files it was started with (named as ModelBootstrap registers them,
    // read once) and the registry's default. Loading an already loaded version costs a dictionary lookup.
    private static Dependency Models(IServiceProvider services)
    {
        var models = services.GetRequiredService<SiloModelCache>();
        string[] files = [.. services.GetRequiredService<IOptions<ServerOptions>>().Value.Models];
        var configured = new Lazy<Task<ModelRef[]>>(async () =>
            [.. await Task.WhenAll(files.Select(async path => ModelBootstrap.ModelFor(path, await File.ReadAllBytesAsync(path))))]);
        return new Dependency("models", async cancel =>
        {
            var wanted = new List<ModelRef>(await configured.Value.WaitAsync(cancel));
            if (await models.GetDefault().WaitAsync(cancel) is { } served && !wanted.Contains(served))
            {
                wanted.Add(served);
            }
            var missing = new List<string>();
            foreach (ModelRef model in wanted)
            {
                try
                {
                    await models.Get(model).WaitAsync(cancel);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    missing.Add($"{model.Name}/{model.Version} not loaded ({e.GetType().Name})");
                }
            }
            return missing.Count == 0 ? null : string.Join("; ", missing);
        });
    }
}
