using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace MarketIntel.Gpu.Devices;

/// <summary>What <c>--device</c> asks for: <c>cuda</c>, <c>cpu</c> (ILGPU's CPU accelerator) or <c>auto</c>.</summary>
public enum DeviceChoice
{
    /// <summary>The first CUDA device when one is present, else no accelerator: the existing CPU code paths run.</summary>
    Auto,

    /// <summary>The first CUDA device; an error when there is none.</summary>
    Cuda,

    /// <summary>ILGPU's CPU accelerator: runs every kernel on the CPU (slowly), so tests can check kernels without a GPU.</summary>
    Cpu,
}

/// <summary>
/// An ILGPU context and the one accelerator the kernels run on. Open it with <see cref="Open"/>; a null answer
/// (only for <see cref="DeviceChoice.Auto"/>) means "no GPU here, use the CPU code paths", which are much faster than
/// ILGPU's CPU accelerator. Disposing releases the accelerator and then the context.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    private readonly Context _context;

    private GpuDevice(Context context, Accelerator accelerator, bool isCuda)
    {
        _context = context;
        Accelerator = accelerator;
        IsCuda = isCuda;
        Description = isCuda
            ? $"cuda:{accelerator.Name} ({accelerator.MemorySize / (1L << 30)} GiB)"
            : $"ilgpu-cpu:{accelerator.Name} (ILGPU CPU accelerator, for tests: slow)";
    }

    /// <summary>The accelerator kernels are loaded on and buffers allocated from.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Whether this is a CUDA GPU (false: ILGPU's CPU accelerator).</summary>
    public bool IsCuda { get; }

    /// <summary>
    /// Held around each sequence of launches and copies a caller makes on the accelerator (a drift scan, a training
    /// job's step), so that callers on several threads take turns on its default stream, which ILGPU does not make for
    /// launches from several threads at once. Every user of a shared device takes this one lock.
    /// </summary>
    public Lock Launches { get; } = new();

    /// <summary>One line for start banners and worker metadata, e.g. <c>cuda:NVIDIA H200 (139 GiB)</c>.</summary>
    public string Description { get; }

    /// <summary>
    /// Opens the device <paramref name="choice"/> names. <see cref="DeviceChoice.Auto"/> answers null when no CUDA
    /// device is present; <see cref="DeviceChoice.Cuda"/> then throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public static GpuDevice? Open(DeviceChoice choice)
    {
        if (choice == DeviceChoice.Cpu)
        {
            var cpuContext = Context.Create(builder => builder.CPU());
            return new GpuDevice(cpuContext, cpuContext.CreateCPUAccelerator(0), isCuda: false);
        }

        Context context;
        try
        {
            context = Context.Create(builder => builder.Cuda());
        }
        catch (Exception e) when (choice == DeviceChoice.Auto && e is DllNotFoundException or TypeInitializationException or NotSupportedException)
        {
            // No CUDA driver library on this machine: auto means the CPU code paths.
            return null;
        }

        if (context.GetCudaDevices().Count == 0)
        {
            context.Dispose();
            return choice == DeviceChoice.Auto
                ? null
                : throw new InvalidOperationException("--device cuda: no CUDA device found (is the NVIDIA driver installed?); use --device auto or cpu");
        }

        try
        {
            return new GpuDevice(context, context.CreateCudaAccelerator(0), isCuda: true);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Reads <c>cuda</c>, <c>cpu</c> or <c>auto</c> (case-insensitive); anything else throws naming <paramref name="flag"/>.</summary>
    public static DeviceChoice ParseChoice(string value, string flag = "--device") => value.ToLowerInvariant() switch
    {
        "auto" => DeviceChoice.Auto,
        "cuda" => DeviceChoice.Cuda,
        "cpu" => DeviceChoice.Cpu,
        _ => throw new ArgumentException($"{flag}: '{value}' is not a device; use cuda, cpu or auto"),
    };

    /// <inheritdoc/>
    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}
