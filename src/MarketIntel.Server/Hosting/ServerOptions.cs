using System.Net;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Hosting;

/// <summary>How a silo host listens and what it loads at start (configuration section <c>MarketIntel</c>).</summary>
public sealed class ServerOptions
{
    public const string Section = "MarketIntel";

    /// <summary>The address the HTTP and gRPC endpoints listen on.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>HTTP/1.1 port: the JSON API, /metrics and the Orleans dashboard.</summary>
    public int HttpPort { get; set; } = 5080;

    /// <summary>gRPC port (HTTP/2 without TLS).</summary>
    public int GrpcPort { get; set; } = 5081;

    /// <summary>Orleans silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Orleans gateway port for external Orleans clients; 0 turns the gateway off.</summary>
    public int GatewayPort { get; set; }

    /// <summary>Model files (XGBoost JSON or ONNX) registered at start; the last becomes the default.</summary>
    public IList<string> Models { get; } = [];

    /// <summary>A port of its own for <c>/metrics</c> (so a network policy can open it to Prometheus alone); 0 serves it on the HTTP port.</summary>
    public int MetricsPort { get; set; }

    /// <summary>Serve the Orleans dashboard at <see cref="DashboardPath"/>.</summary>
    public bool Dashboard { get; set; } = true;

    /// <summary>Where the Orleans dashboard is served.</summary>
    public string DashboardPath { get; set; } = "/dashboard";

    /// <summary>
    /// How long a stop (SIGTERM, Ctrl+C) may take: requests in flight finish, streams end, grains deactivate and the
    /// silo leaves the membership table within it. Kubernetes gives a pod 30 s by default before SIGKILL.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// What the silo runs (<see cref="Grains.Placement.SiloRole"/>): <c>serving</c> (asset grains, predictions),
    /// <c>worker</c> (jobs) or <c>all</c>. Kept as text so that a bad value is reported with the choices.
    /// </summary>
    public string Role { get; set; } = "all";

    /// <summary>
    /// The device a silo that runs jobs advertises (<c>serve --device</c>): <c>auto</c> (a CUDA device when present, else
    /// this machine's cores, as before there were GPU kernels), <c>cuda</c> (an error without one) or <c>cpu</c> (ILGPU's CPU
    /// accelerator, for tests). docs/gpu.md.
    /// </summary>
    public string Device { get; set; } = "auto";

    /// <summary>The role as <see cref="Role"/> names it, once the validator has accepted it.</summary>
    public Grains.Placement.SiloRole SiloRole =>
        Grains.Placement.SiloRoles.TryParse(Role, out var role) ? role : throw new InvalidOperationException($"{Section}:Role '{Role}' was not validated");
}

/// <summary>Checks <see cref="ServerOptions"/> at start, naming the setting at fault.</summary>
public sealed class ServerOptionsValidator : IValidateOptions<ServerOptions>
{
    public ValidateOptionsResult Validate(string? name, ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!IPAddress.TryParse(options.ListenAddress, out _))
        {
            failures.Add($"{ServerOptions.Section}:ListenAddress '{options.ListenAddress}' is not an IP address");
        }
        CheckPort(failures, "HttpPort", options.HttpPort, allowZero: false);
        CheckPort(failures, "GrpcPort", options.GrpcPort, allowZero: false);
        CheckPort(failures, "SiloPort", options.SiloPort, allowZero: false);
        CheckPort(failures, "GatewayPort", options.GatewayPort, allowZero: true);
        CheckPort(failures, "MetricsPort", options.MetricsPort, allowZero: true);
        var ports = new[] { ("HttpPort", options.HttpPort), ("GrpcPort", options.GrpcPort), ("SiloPort", options.SiloPort), ("GatewayPort", options.GatewayPort), ("MetricsPort", options.MetricsPort) }
            .Where(p => p.Item2 > 0).GroupBy(p => p.Item2).Where(g => g.Count() > 1);
        foreach (var clash in ports)
        {
            failures.Add($"{ServerOptions.Section}: {string.Join(" and ", clash.Select(p => p.Item1))} are both {clash.Key}");
        }
        foreach (string model in options.Models)
        {
            if (!File.Exists(model))
            {
                failures.Add($"{ServerOptions.Section}:Models: model file '{model}' does not exist");
            }
        }
        if (options.ShutdownTimeout < TimeSpan.FromSeconds(1) || options.ShutdownTimeout > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{ServerOptions.Section}:ShutdownTimeout {options.ShutdownTimeout} must be between 00:00:01 and 00:10:00");
        }
        if (!Grains.Placement.SiloRoles.TryParse(options.Role, out _))
        {
            failures.Add($"{ServerOptions.Section}:Role '{options.Role}' is not a silo role: {Grains.Placement.SiloRoles.Choices}");
        }
        try
        {
            Gpu.Devices.GpuDevice.ParseChoice(options.Device, $"{ServerOptions.Section}:Device");
        }
        catch (ArgumentException e)
        {
            failures.Add(e.Message);
        }
        if (!options.DashboardPath.StartsWith('/'))
        {
            failures.Add($"{ServerOptions.Section}:DashboardPath '{options.DashboardPath}' must start with '/'");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckPort(List<string> failures, string name, int port, bool allowZero)
    {
        if (port is < 0 or > 65535 || (port == 0 && !allowZero))
        {
            failures.Add($"{ServerOptions.Section}:{name} {port} must be between {(allowZero ? 0 : 1)} and 65535");
        }
    }
}
