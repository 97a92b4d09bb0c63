using System.Diagnostics;
using System.Globalization;
using MarketIntel.CommandLine;
using MarketIntel.Gpu.Devices;

namespace MarketIntel.GpuBench;

/// <summary>What every section shares: the device, the sizes asked for, and how figures are printed.</summary>
internal sealed class BenchContext : IDisposable
{
    private BenchContext(GpuDevice device, CliArguments options)
    {
        Device = device;
        Options = options;
    }

    public GpuDevice Device { get; }

    public CliArguments Options { get; }

    /// <summary>How the device's timings are labelled: GPU figures only from a CUDA device.</summary>
    public string DeviceLabel => Device.IsCuda ? Device.Description : $"{Device.Description} -- CPU-accelerator timings, NOT GPU figures";

    public static BenchContext Open(CliArguments options)
    {
        string choice = options.Required("device");
        GpuDevice? device;
        try
        {
            // auto is refused: a benchmark says which device it measures.
            device = choice == "auto" ? null : GpuDevice.Open(GpuDevice.ParseChoice(choice, "option '--device'"));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new UsageException(e.Message);
        }
        if (device is null)
        {
            throw new UsageException("option '--device': say cuda or cpu; a benchmark names the device it measures");
        }
        Console.WriteLine($"device: {device.Description}");
        Console.WriteLine($"host: {Environment.ProcessorCount} cores, {File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "unknown cpu"}, .NET {Environment.Version}");
        return new BenchContext(device, options);
    }

    public int Int(string name, int fallback, int min, int max) => Options.OptionalInt(name, min, max) ?? fallback;

    /// <summary>The best of <paramref name="runs"/> timings of <paramref name="work"/>, in seconds.</summary>
    public static double Best(int runs, Action work)
    {
        double best = double.MaxValue;
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            work();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }

    public static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public void Dispose() => Device.Dispose();
}
