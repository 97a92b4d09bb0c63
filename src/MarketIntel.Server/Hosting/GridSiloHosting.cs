using MarketIntel.Grains;
using MarketIntel.Inference;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace MarketIntel.Server.Hosting;

/// <summary>The silo in the host: the grid's grains on embedded defaults, or on the providers <see cref="GridClusterHosting.AddGridCluster"/> registered.</summary>
public static class GridSiloHosting
{
    /// <summary>The Orleans service id: grain state rows in PostgreSQL are keyed by it.</summary>
    public const string ServiceId = "marketintel";

    /// <summary>
    /// Adds the silo with the grid's grains and the model limits they load models under. On embedded defaults it
    /// clusters on localhost and keeps state in memory; in cluster mode, call <see cref="GridClusterHosting.AddGridCluster"/>
    /// first, whose providers replace those defaults.
    /// </summary>
    public static WebApplicationBuilder AddGridSilo(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        bool clusterMode = GridConfiguration.IsClusterMode(builder.Configuration);
        var server = builder.Configuration.Bound<ServerOptions>(ServerOptions.Section);
        // The device this silo advertises for jobs (its GPU, or its cores), and the jobs it takes at once. A worker that
        // chose a device holds it open for its lifetime: its drift scans (SiloDriftScans) and retraining jobs run there.
        int? maxJobs = builder.Configuration.Bound<Grains.Placement.WorkerSlotsOptions>(Grains.Placement.WorkerSlotsOptions.Section).MaxJobsPerWorker;
        Gpu.Devices.GpuDevice? gpu = OpenWorkerGpu(server);
        var device = Advertised(gpu, maxJobs);
        if (gpu is not null)
        {
            // A factory's instance is owned by the container, which disposes it with the host, after the silo stopped;
            // GridServer.Build resolves it at once so that it is owned even if nothing scans.
            builder.Services.AddSingleton(_ => gpu);
            builder.Services.AddSingleton<Training.Drift.IDriftScanEngine>(s => new Gpu.Drift.GpuDriftScanEngine(s.GetRequiredService<Gpu.Devices.GpuDevice>()));
            // Its retraining jobs train there too (RetrainJobGrain), one at a time, under the device's lock the scans take.
            builder.Services.AddSingleton<Training.Devices.ITrainingDevice>(s => new Gpu.Training.GpuTrainingDevice(s.GetRequiredService<Gpu.Devices.GpuDevice>()));
        }
        // Models are client input: the registry and every silo's model cache load them under these ceilings.
        builder.Services.AddSingleton(services => services.GetRequiredService<IOptions<ModelLimits>>().Value);
        // Process-wide and fixed when the first ONNX model loads, so set while composing, before anything runs.
        if (builder.Configuration.Bound<OnnxMemoryOptions>(GridConfiguration.ModelsSection).OnnxMemoryBytes is { } onnxMemory)
        {
            Inference.Onnx.OnnxRuntimeMemory.Configure(onnxMemory);
        }
        builder.UseOrleans(silo =>
        {
            if (!clusterMode)
            {
                silo.UseLocalhostClustering(siloPort: server.SiloPort, gatewayPort: server.GatewayPort);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = "marketintel-embedded";
                    o.ServiceId = ServiceId;
                });
            }
            // The grid's options were registered with the host's others (GridConfiguration).
            silo.AddMarketIntelGrid(inMemoryStorage: !clusterMode, role: server.SiloRole, device: device);
        });
        return builder;
    }

    /// <summary>
    /// The device a silo advertises for jobs: for a silo that runs them, the accelerator <see cref="ServerOptions.Device"/>
    /// chooses (opened once to name it, then released), else this machine's cores. A serving silo opens nothing.
    /// </summary>
    /// <exception cref="ServerConfigurationException">The device is not a choice, or <c>cuda</c> is asked for without a CUDA device.</exception>
    public static Grains.Placement.WorkerDevice WorkerDeviceFor(ServerOptions server, int? maxJobs)
    {
        using Gpu.Devices.GpuDevice? gpu = OpenWorkerGpu(server);
        return Advertised(gpu, maxJobs);
    }

    /// <summary>
    /// The accelerator a silo that runs jobs opens (<see cref="ServerOptions.Device"/>); null for a serving silo, or
    /// for <c>auto</c> without a CUDA device (the CPU code paths). The caller owns what it answers.
    /// </summary>
    /// <exception cref="ServerConfigurationException">The device is not a choice, or <c>cuda</c> is asked for without a CUDA device.</exception>
    public static Gpu.Devices.GpuDevice? OpenWorkerGpu(ServerOptions server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (!Grains.Placement.SiloRoles.TryParse(server.Role, out var role) || !Grains.Placement.SiloRoles.Runs(role, Grains.Placement.SiloRole.Worker))
        {
            return null;
        }
        try
        {
            return Gpu.Devices.GpuDevice.Open(Gpu.Devices.GpuDevice.ParseChoice(server.Device, $"{ServerOptions.Section}:Device"));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ServerConfigurationException(e.Message);
        }
    }

    private static Grains.Placement.WorkerDevice Advertised(Gpu.Devices.GpuDevice? gpu, int? maxJobs) =>
        gpu is null ? Grains.Placement.WorkerDevice.ThisMachine(maxJobs) : Grains.Placement.WorkerDevice.Accelerator(gpu.Description, maxJobs);
}
