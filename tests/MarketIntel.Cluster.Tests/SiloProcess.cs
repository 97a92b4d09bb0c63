using System.Diagnostics;
using System.Text;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Tests;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// One `marketintel serve --cluster` process on free loopback ports. Membership is tuned to notice a dead silo
/// within a few seconds (Orleans' defaults take tens of seconds), through the environment as an operator would.
/// </summary>
internal sealed class SiloProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private GrpcChannel? _channel;

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public string Name { get; }

    private SiloProcess(string name, Process process, int httpPort, int grpcPort)
    {
        Name = name;
        _process = process;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
    }

    public static SiloProcess Start(string name, string redis, string postgres, params string[] extra) =>
        Start(name, redis, postgres, null, fastDetection: true, extra);

    /// <summary>
    /// A cluster-mode silo on <paramref name="ports"/> (HTTP, gRPC, silo; fresh ones when null), with Orleans' membership
    /// defaults unless <paramref name="fastDetection"/>.
    /// </summary>
    public static SiloProcess Start(string name, string redis, string postgres, int[]? ports, bool fastDetection, params string[] extra) =>
        // Picked together, so the three are distinct (one at a time, the system may hand out the same port twice).
        Launch(name, ports ?? MarketIntel.Server.Hosting.FreePorts.Pick(3), ["--cluster", "--redis", redis, "--postgres", postgres, .. extra], fastDetection);

    /// <summary>A cluster-mode silo with more settings in its environment (e.g. <c>Postgres__ArchiveMaxQueuedRows</c>).</summary>
    public static SiloProcess Start(string name, string redis, string postgres, IReadOnlyDictionary<string, string> environment, params string[] extra) =>
        Launch(name, MarketIntel.Server.Hosting.FreePorts.Pick(3), ["--cluster", "--redis", redis, "--postgres", postgres, .. extra], fastDetection: true, environment);

    /// <summary>
    /// A silo on embedded defaults (everything in memory) on <paramref name="ports"/> (HTTP, gRPC, silo; fresh ones when
    /// null): started again on the same ports, it is the same address holding nothing.
    /// </summary>
    public static SiloProcess StartEmbedded(string name, int[]? ports = null) =>
        Launch(name, ports ?? MarketIntel.Server.Hosting.FreePorts.Pick(3), [], fastDetection: false);

    /// <summary>The silo's HTTP, gRPC and silo ports.</summary>
    public int[] Ports { get; private init; } = [];

    private static SiloProcess Launch(string name, int[] ports, string[] arguments, bool fastDetection, IReadOnlyDictionary<string, string>? environment = null)
    {
        int http = ports[0], grpc = ports[1], silo = ports[2];
        string dll = Path.Combine(AppContext.BaseDirectory, "marketintel.dll");
        var info = new ProcessStartInfo("dotnet",
            [dll, "serve", .. arguments,
             "--http-port", $"{http}", "--grpc-port", $"{grpc}", "--silo-port", $"{silo}", "--no-dashboard"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        if (fastDetection)
        {
            info.Environment["Orleans__ClusterMembership__ProbeTimeout"] = "00:00:01";
            info.Environment["Orleans__ClusterMembership__NumMissedProbesLimit"] = "2";
            info.Environment["Orleans__ClusterMembership__TableRefreshTimeout"] = "00:00:02";
            info.Environment["Orleans__ClusterMembership__IAmAliveTablePublishTimeout"] = "00:00:05";
        }
        var process = Process.Start(info)!;
        var silo_ = new SiloProcess(name, process, http, grpc) { Ports = ports };
        process.OutputDataReceived += (_, e) => silo_.Log(e.Data);
        process.ErrorDataReceived += (_, e) => silo_.Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo_;
    }

    private void Log(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until the silo answers /healthz.</summary>
    public async Task WaitReady(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"silo {Name} exited with {_process.ExitCode}:\n{Output}");
            }
            try
            {
                if ((await http.GetAsync($"http://127.0.0.1:{HttpPort}/healthz")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"silo {Name} not ready in {timeout.TotalSeconds} s:\n{Output}");
    }

    public Grid.GridClient Client => new(_channel ??= GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}"));

    /// <summary>The demo's direction model: its 8 inputs include lag_1_rsi_14, which it adds to every asset's spec.</summary>
    public static string DemoModel => Path.Combine(RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData", "direction-d3-n60.json");

    /// <summary>One IngestBars call carrying one message; the reply acknowledges its bars.</summary>
    public async Task<IngestBarsReply> Ingest(IngestBarsRequest request, TimeSpan? deadline = null)
    {
        using var call = Client.IngestBars(deadline: DateTime.UtcNow + (deadline ?? TimeSpan.FromSeconds(30)));
        await call.RequestStream.WriteAsync(request);
        await call.RequestStream.CompleteAsync();
        return await call;
    }

    /// <summary>SIGKILL: no shutdown, no flush, no goodbye to the cluster.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    /// <summary>Sends SIGTERM (as Kubernetes stops a pod) and returns at once.</summary>
    public void Terminate() =>
        ServerProcess.Run("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>Whether the process exited within <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>SIGTERM: a clean stop.</summary>
    public void Stop(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }
        ServerProcess.Run("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (!_process.WaitForExit(timeout))
        {
            Kill();
        }
    }

    public void Dispose()
    {
        Kill();
        _channel?.Dispose();
        _process.Dispose();
    }
}
