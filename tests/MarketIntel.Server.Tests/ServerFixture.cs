using System.Globalization;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Server.Hosting;
using MarketIntel.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Server.Tests;

/// <summary>
/// The real host (Kestrel, the silo, the APIs) started once for the tests on free loopback ports, with the demo's
/// direction model (computed features) registered as the default at start, and clients for both APIs. Drift windows
/// are 100 bars, evaluated every 10 and stored every 100 ms. The console's reports directory is a temporary folder.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public static string DirectionModel { get; } = Path.Combine(RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData", "direction-d3-n60.json");

    public static string PushedModel { get; } = RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json");

    private WebApplication? _app;

    public int HttpPort { get; private set; }

    public int GrpcPort { get; private set; }

    public HttpClient Http { get; } = new();

    public GrpcChannel Channel { get; private set; } = null!;

    public Grid.GridClient Grpc { get; private set; } = null!;

    public IServiceProvider Services => _app!.Services;

    /// <summary>The console's reports directory, an empty temporary folder the reports tests write report folders into.</summary>
    public string ReportsDirectory { get; } = Directory.CreateTempSubdirectory("marketintel-reports-").FullName;

    public async Task InitializeAsync()
    {
        int[] ports = FreePorts.Pick(3);
        (HttpPort, GrpcPort) = (ports[0], ports[1]);
        _app = GridServer.Build(new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = Text(HttpPort),
            ["MarketIntel:GrpcPort"] = Text(GrpcPort),
            ["MarketIntel:SiloPort"] = Text(ports[2]),
            ["MarketIntel:Models:0"] = DirectionModel,
            ["MarketIntel:Console:ReportsDirectory"] = ReportsDirectory,
            // Drift windows small and written often, so the drift tests need few bars and little waiting.
            ["Grid:Drift:Window"] = "100",
            ["Grid:Drift:EvaluateEveryBars"] = "10",
            ["Grid:Drift:FlushInterval"] = "00:00:00.100",
        }, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await _app.StartAsync();
        Http.BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}");
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
        Grpc = new Grid.GridClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        Directory.Delete(ReportsDirectory, recursive: true);
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);
}

[CollectionDefinition("server")]
public sealed class ServerGroup : ICollectionFixture<ServerFixture>;
