using MarketIntel.CommandLine;
using MarketIntel.Grains.Placement;
using MarketIntel.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MarketIntel.Cli.Commands;

/// <summary><c>marketintel serve</c>: a silo serving gRPC, HTTP, /metrics and the dashboard until SIGINT or SIGTERM, on
/// embedded defaults or, with <c>--cluster</c>, as a member of a cluster (Redis membership, PostgreSQL state).</summary>
internal static class ServeCommand
{
    public const string Usage = "marketintel serve [--http-port P] [--grpc-port Q] [--model FILE]... [--features SPEC] [--history N] [--listen ADDRESS] [--silo-port N] [--gateway-port M] [--no-dashboard] [--metrics-port P] [--api-keys FILE | --auth] [--role serving|worker|all] [--device cuda|cpu|auto]\n" +
        "       [--tls-cert CERT.pem --tls-key KEY.pem | --tls-cert CERT.pfx] (a password in Tls__Password)\n" +
        "       [--cluster --redis HOST:PORT --postgres CONN [--cluster-id NAME] [--advertise ADDRESS]]";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var overrides = Overrides(args);
        WebApplication app = GridServer.Build(overrides);
        // Build has read and checked the options; take them from the host rather than reading them again.
        var server = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
        var cluster = app.Services.GetRequiredService<IOptions<Server.Cluster.ClusterModeOptions>>().Value is { Enabled: true } on ? on : null;
        var postgres = app.Configuration["Postgres:ConnectionString"];
        var redis = app.Services.GetRequiredService<IOptions<Cache.Redis.Hosting.RedisCacheOptions>>().Value.Redis;
        string? mode = cluster is null ? null
            : $"  cluster '{cluster.ClusterId}': membership and cache in Redis {Cache.Redis.Hosting.RedisCacheOptions.Redact(redis)}, state in PostgreSQL {Storage.Postgres.Hosting.PostgresOptions.Redact(postgres ?? "")}, silo port {server.SiloPort}";
        var auth = app.Services.GetRequiredService<IOptions<Server.Security.AuthOptions>>().Value;
        var keys = app.Services.GetService<Server.Security.ApiKeyAuthenticator>();
        app.Lifetime.ApplicationStarted.Register(() => stdout.WriteLine(Describe(server, mode,
            !auth.IsOn ? "  API keys: off (loopback only; --api-keys FILE turns them on)"
                : "  " + string.Join("; ", new[]
                {
                    keys is null ? null : $"API keys: on, {keys.ActiveKeys} active, from {(string.IsNullOrEmpty(auth.KeysFile) ? "PostgreSQL" : auth.KeysFile)} (send 'authorization: Bearer KEY')",
                    auth.Jwt.IsOn ? $"JWTs from {auth.Jwt.Issuer ?? auth.Jwt.Authority} for audience {auth.Jwt.Audience}, role in claim {auth.Jwt.RoleClaim}" : null,
                }.OfType<string>()),
            app.Services.GetRequiredService<IOptions<Server.Security.TlsOptions>>().Value.IsOn, app.Services.GetService<WorkerDevice>())));
        // The host's console lifetime stops it cleanly on SIGINT and SIGTERM.
        app.Run();
        stdout.WriteLine("marketintel serve: stopped");
        return 0;
    }

    /// <summary>The command line as configuration keys, which take precedence over appsettings.json and the environment.</summary>
    public static Dictionary<string, string?> Overrides(ReadOnlySpan<string> args)
    {
        var options = CliArguments.Parse(args, ["http-port", "grpc-port", "silo-port", "gateway-port", "metrics-port", "listen", "role", "features", "history", "redis", "postgres", "cluster-id", "advertise", "api-keys", "tls-cert", "tls-key", DeviceOption.Name], ["no-dashboard", "cluster", "auth"], ["model"]);
        var overrides = new Dictionary<string, string?>(StringComparer.Ordinal);
        void Port(string flag, string key, int min)
        {
            if (options.OptionalInt(flag, min, 65535) is { } port)
            {
                overrides[key] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        Port("http-port", "MarketIntel:HttpPort", 1);
        Port("grpc-port", "MarketIntel:GrpcPort", 1);
        Port("silo-port", "MarketIntel:SiloPort", 1);
        Port("gateway-port", "MarketIntel:GatewayPort", 0);
        Port("metrics-port", "MarketIntel:MetricsPort", 1);
        if (options.Optional("listen") is { } listen)
        {
            overrides["MarketIntel:ListenAddress"] = listen;
        }
        if (options.Optional(DeviceOption.Name) is { } device)
        {
            overrides["MarketIntel:Device"] = device;
        }
        if (options.Optional("role") is { } role)
        {
            overrides["MarketIntel:Role"] = role;
        }
        if (options.Flag("no-dashboard"))
        {
            overrides["MarketIntel:Dashboard"] = "false";
        }
        var models = options.All("model");
        for (int i = 0; i < models.Count; i++)
        {
            overrides[$"MarketIntel:Models:{i}"] = Path.GetFullPath(models[i]);
        }
        if (options.Optional("features") is { } features)
        {
            overrides["Grid:Features"] = features;
        }
        if (options.Flag("cluster"))
        {
            overrides["Cluster:Enabled"] = "true";
        }
        if (options.Optional("api-keys") is { } keys)
        {
            overrides["Auth:KeysFile"] = Path.GetFullPath(keys);
        }
        if (options.Flag("auth"))
        {
            overrides["Auth:Enabled"] = "true";
        }
        if (options.Optional("tls-cert") is { } certificate)
        {
            overrides["Tls:CertificateFile"] = Path.GetFullPath(certificate);
        }
        if (options.Optional("tls-key") is { } keyFile)
        {
            overrides["Tls:KeyFile"] = Path.GetFullPath(keyFile);
        }
        foreach (var (flag, key) in new[] { ("redis", "Cluster:Redis"), ("postgres", "Postgres:ConnectionString"), ("cluster-id", "Cluster:ClusterId"), ("advertise", "Cluster:AdvertisedAddress") })
        {
            if (options.Optional(flag) is { } value)
            {
                if (!options.Flag("cluster"))
                {
                    throw new UsageException($"--{flag} is a cluster-mode option: add --cluster");
                }
                overrides[key] = value;
            }
        }
        if (options.OptionalInt("history", 1, 1_000_000) is { } history)
        {
            overrides["Grid:HistoryLength"] = history.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return overrides;
    }

    public static string Describe(ServerOptions server, string? cluster = null, string? auth = null, bool tls = false, WorkerDevice? device = null)
    {
        string host = server.ListenAddress.Contains(':', StringComparison.Ordinal) ? $"[{server.ListenAddress}]" : server.ListenAddress;
        return string.Join('\n',
            $"marketintel serve: gRPC on grpc{(tls ? "s" : "")}://{host}:{server.GrpcPort}",
            $"  HTTP on http{(tls ? "s" : "")}://{host}:{server.HttpPort} (GET /predict/{{asset}}, GET|PUT /features/{{asset}}, {(server.MetricsPort > 0 ? $"/metrics on port {server.MetricsPort}" : "/metrics")}{(server.Dashboard ? $", dashboard at {server.DashboardPath}" : "")})",
            cluster ?? "  embedded defaults: state in memory (--cluster for Redis membership and PostgreSQL state)",
            $"  role: {server.SiloRole.Name()} ({server.SiloRole switch
            {
                SiloRole.Serving => "asset grains and predictions; jobs run on worker silos",
                SiloRole.Worker => "jobs; asset grains and predictions run on serving silos, this silo's API forwards to them",
                _ => "asset grains, predictions and jobs",
            }}{(device is not null && server.SiloRole.Runs(SiloRole.Worker) ? $"; device {device}" : "")})",
            auth ?? "  API keys: off",
            $"  models: {(server.Models.Count == 0 ? "none yet (register through gRPC RegisterModel)" : string.Join(", ", server.Models))}",
            "  Ctrl+C or SIGTERM stops it");
    }
}
