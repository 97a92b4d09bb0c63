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

    private InProcessGrid? _grid;

    public string KeysFile { get; } = Path.Combine(Directory.CreateTempSubdirectory("marketintel-auth-").FullName, "keys.json");

    public Dictionary<string, string> Keys { get; } = [];

    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Log { get; } = new();

    public GrpcChannel Channel { get; private set; } = null!;

    public HttpClient Http { get; } = new();

    public async Task InitializeAsync()
    {
        var store = new FileApiKeyStore(KeysFile);
        // "hurried" is the rate-limit test's own, so that emptying its bucket leaves the other tests' keys alone.
        foreach (var (name, role) in new[] { ("reader", ApiRole.Reader), ("writer", ApiRole.Writer), ("admin", ApiRole.Admin), ("revoked", ApiRole.Admin), ("hurried", ApiRole.Reader) })
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

        _grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["MarketIntel:Dashboard"] = "true",
            ["MarketIntel:Models:0"] = AuthFixture.DirectionModel,
            ["Auth:KeysFile"] = KeysFile,
            ["Auth:RefreshInterval"] = "00:00:00.2",
            ["Limits:RequestsPerSecondPerKey"] = RequestsPerSecond.ToString(CultureInfo.InvariantCulture),
        }, logging => logging.SetMinimumLevel(LogLevel.Information).AddProvider(new Capture(Log)));
        Http.BaseAddress = new Uri(_grid.Http(""));
        Channel = _grid.Channel();
    }

    public const string AuditLogCategory = "MarketIntel.Audit";

    /// <summary>Each key's request rate: well above what the other tests send, reachable by one that hurries.</summary>
    public const int RequestsPerSecond = 100;

    /// <summary>gRPC call options carrying the named key (none for null).</summary>
    public static CallOptions As(string? key) =>
        new(headers: key is null ? null : new Metadata { { "authorization", "Bearer " + key } }, deadline: DateTime.UtcNow.AddSeconds(30));

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        if (_grid is not null)
        {
            await _grid.DisposeAsync();
        }
        Directory.Delete(Path.GetDirectoryName(KeysFile)!, recursive: true);
    }

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
