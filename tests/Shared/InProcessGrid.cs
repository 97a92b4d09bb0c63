using System.Globalization;
using MarketIntel.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Tests;

/// <summary>The grid's real host started in the test process on free loopback ports (dashboard off unless the settings turn it on).</summary>
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

    /// <summary>A gRPC channel to the grid (HTTP/2 without TLS); the caller disposes it.</summary>
    public Grpc.Net.Client.GrpcChannel Channel() => Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort.ToString(CultureInfo.InvariantCulture)}");

    /// <param name="settings">More configuration keys, e.g. <c>MarketIntel:Models:0</c>.</param>
    /// <param name="logging">The host's logging, instead of warnings and above.</param>
    public static async Task<InProcessGrid> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, Action<ILoggingBuilder>? logging = null)
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
        WebApplication app = GridServer.Build(configuration, logging ?? (builder => builder.SetMinimumLevel(LogLevel.Warning)));
        await app.StartAsync();
        return new InProcessGrid(app, ports[0], ports[1]);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
