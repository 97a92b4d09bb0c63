using System.Collections.Concurrent;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Abstractions;
using MarketIntel.Api.V1;
using MarketIntel.Server.Hosting;
using MarketIntel.Server.Security;
using MarketIntel.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

using MarketIntel.Server.Tests;

namespace MarketIntel.Security.Tests;

/// <summary>
/// The real host with API keys on, from a key file in a temp folder: one key of each role, one revoked before the
/// start, and the log lines it writes (the audit log among them) kept for the tests to read.
/// </summary>
public sealed class AuthFixture : IAsyncLifetime
{
    public static string DirectionModel { get; } = Path.Combine(RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData", "direction-d3-n60.json");

    public static string PushedModel { get; } = RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json");

    private WebApplication? _app;

    public string KeysFile { get; } = Path.Combine(Directory.CreateTempSubdirectory("marketintel-auth-").FullName, "keys.json");

    public Dictionary<string, string> Keys { get; } = [];

    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Log { get; } = new();

    public int HttpPort { get; private set; }

    public int GrpcPort { get; private set; }

    public GrpcChannel Channel { get; private set; } = null!;

    public HttpClient Http { get; } = new();

    public async Task InitializeAsync()
    {
        var store = new FileApiKeyStore(KeysFile);
        foreach (var (name, role) in new[] { ("reader", ApiRole.Reader), ("writer", ApiRole.Writer), ("admin", ApiRole.Admin), ("revoked", ApiRole.Admin) })
        {
            var (key, record) = ApiKeys.Create(name, role, DateTimeOffset.UtcNow);
            await store.Add(record);
            Keys[name] = key;
        }
        await store.Revoke("revoked", DateTimeOffset.UtcNow);
        // Well-formed, but never created: its id is unknown.
        Keys["wrong"] = ApiKeys.Create("wrong", ApiRole.Admin, DateTimeOffset.UtcNow).Key;
        // A known id with another secret.
        Keys["forged"] = Keys["admin"][..^4] + "AAAA";

        int[] ports = FreePorts.Pick(3);
        (HttpPort, GrpcPort) = (ports[0], ports[1]);
        _app = GridServer.Build(new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = Text(HttpPort),
            ["MarketIntel:GrpcPort"] = Text(GrpcPort),
            ["MarketIntel:SiloPort"] = Text(ports[2]),
            ["MarketIntel:Models:0"] = AuthFixture.DirectionModel,
            ["Auth:KeysFile"] = KeysFile,
            ["Auth:RefreshInterval"] = "00:00:00.2",
            ["Limits:RequestsPerSecondPerKey"] = RequestsPerSecond.ToString(CultureInfo.InvariantCulture),
        }, logging => logging.SetMinimumLevel(LogLevel.Information).AddProvider(new Capture(Log)));
        await _app.StartAsync();
        Http.BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}");
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
    }

    public const string AuditLogCategory = "MarketIntel.Audit";

    /// <summary>Each key's request rate: well above what the other tests send, reachable by one that hurries.</summary>
    public const int RequestsPerSecond = 500;

    /// <summary>gRPC call options carrying the named key (none for null).</summary>
    public static CallOptions As(string? key) =>
        new(headers: key is null ? null : new Metadata { { "authorization", "Bearer " + key } }, deadline: DateTime.UtcNow.AddSeconds(30));

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        Directory.Delete(Path.GetDirectoryName(KeysFile)!, recursive: true);
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    private sealed class Capture(ConcurrentQueue<(string, LogLevel, string)> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(string, LogLevel, string)> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }
}

[CollectionDefinition("auth")]
public sealed class AuthGroup : ICollectionFixture<AuthFixture>;
