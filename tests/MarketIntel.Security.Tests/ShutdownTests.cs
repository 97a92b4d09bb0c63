using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Security.Tests;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Prediction_streams_that_are_never_read_do_not_hold_up_a_shutdown()
    {
        var grid = await InProcessGrid.StartAsync();
        using var channel = grid.Channel();
        var client = new Grid.GridClient(channel);
        var streams = new List<Grpc.Core.AsyncServerStreamingCall<Prediction>>();
        for (int i = 0; i < 20; i++)
        {
            var call = client.StreamPredictions(new StreamPredictionsRequest { Assets = { $"IDLE{i}" } });
            await call.ResponseHeadersAsync;
            streams.Add(call);
        }

        var clock = Stopwatch.StartNew();
        await grid.App.StopAsync();
        clock.Stop();
        await grid.DisposeAsync();
        foreach (var call in streams)
        {
            call.Dispose();
        }
        // Before, each open stream kept Kestrel waiting for its whole shutdown timeout (about 30 s).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"stopping took {clock.Elapsed.TotalSeconds:F1} s");
    }
}

public sealed class ShutdownBudgetTests
{
    [Fact]
    public async Task The_shutdown_timeout_setting_is_the_hosts_budget_for_a_stop()
    {
        await using var grid = await InProcessGrid.StartAsync(new Dictionary<string, string?> { ["MarketIntel:ShutdownTimeout"] = "00:00:07" });
        var host = grid.App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.Extensions.Hosting.HostOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(7), host.ShutdownTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), new ServerOptions().ShutdownTimeout);
    }
}

public sealed class MetricsPortTests
{
    [Fact]
    public async Task Metrics_on_a_port_of_their_own_are_not_served_on_the_HTTP_port_and_still_need_a_key()
    {
        int metricsPort = FreePorts.Pick(1)[0];
        string keys = Path.Combine(Directory.CreateTempSubdirectory("marketintel-metrics-").FullName, "keys.json");
        var (key, record) = MarketIntel.Abstractions.ApiKeys.Create("prometheus", MarketIntel.Abstractions.ApiRole.Reader, DateTimeOffset.UtcNow);
        await new MarketIntel.Server.Security.FileApiKeyStore(keys).Add(record);
        var grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["MarketIntel:MetricsPort"] = metricsPort.ToString(CultureInfo.InvariantCulture),
            ["Auth:KeysFile"] = keys,
        });
        try
        {
            using var http = new HttpClient();
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            string metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
            Assert.Contains("marketintel_active_assets", metrics, StringComparison.Ordinal);
            using var onHttp = await http.GetAsync(new Uri(grid.Http("/metrics")));
            Assert.Equal(System.Net.HttpStatusCode.NotFound, onHttp.StatusCode);
            using var anonymous = new HttpClient();
            using var refused = await anonymous.GetAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        finally
        {
            await grid.DisposeAsync();
            Directory.Delete(Path.GetDirectoryName(keys)!, recursive: true);
        }
    }
}
