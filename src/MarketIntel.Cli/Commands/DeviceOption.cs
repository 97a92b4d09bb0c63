using MarketIntel.CommandLine;
using MarketIntel.Gpu.Devices;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>--device cuda|cpu|auto</c>, one definition for every command that runs kernels (backtest, serve, drift --model; train with the
/// training kernels). <c>auto</c>, the default, takes a CUDA device when one is present and otherwise the CPU code paths,
/// exactly as before there were kernels; <c>cpu</c> is ILGPU's CPU accelerator (slow: for checking kernels without a GPU).
/// </summary>
internal static class DeviceOption
{
    /// <summary>The option's name, for <see cref="CliArguments.Parse"/>'s list.</summary>
    public const string Name = "device";

    /// <summary>As the usage lines show it.</summary>
    public const string Usage = "[--device cuda|cpu|auto]";

    /// <summary>
    /// Opens the device <c>--device</c> names and reports it on <paramref name="stdout"/> as <c>device: ...</c>; null means
    /// the CPU code paths. A bad name, or <c>cuda</c> on a machine without a CUDA device, is a usage error naming the option.
    /// </summary>
    public static GpuDevice? Open(CliArguments options, TextWriter stdout)
    {
        ArgumentNullException.ThrowIfNull(options);
        GpuDevice? device;
        try
        {
            device = GpuDevice.Open(GpuDevice.ParseChoice(options.Optional(Name) ?? "auto", "option '--device'"));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new UsageException(e.Message);
        }
        stdout.WriteLine($"device: {Describe(device)}");
        return device;
    }

    /// <summary>The banner's words for <paramref name="device"/>: its description, or the CPU code paths' cores.</summary>
    public static string Describe(GpuDevice? device) =>
        device?.Description ?? $"cpu:{Environment.ProcessorCount} (no CUDA device chosen: the CPU code paths)";
}
