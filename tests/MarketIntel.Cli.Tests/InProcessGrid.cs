using System.Globalization;
using MarketIntel.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Cli.Tests;

/// <summary>The grid's real host started in the test process on free loopback ports (dashboard off).</summary>
internal sealed class InProcessGrid : IAsyncDisposable
{
    private InProcessGrid(WebApplication app, int httpPort, int grpcPort)
    {
        App = app;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
    }

    public WebApplication App { get; }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public string GrpcTarget => $"grpc://127.0.0.1:{GrpcPort.ToString(CultureInfo.InvariantCulture)}";

    public string Http(string path) => $"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}{path}";

    /// <param name="settings">More configuration keys, e.g. <c>MarketIntel:Models:0</c>.</param>
    public static async Task<InProcessGrid> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        int[] ports = FreePorts.Pick(3);
        var configuration = new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:GrpcPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:SiloPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
            ["MarketIntel:Dashboard"] = "false",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }
        WebApplication app = GridServer.Build(configuration, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        return new InProcessGrid(app, ports[0], ports[1]);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
