using MarketIntel.Features.Kernels;

namespace MarketIntel.Features;

/// <summary>
/// The streaming form of one feature for one asset: O(1) work per bar in history length, constant memory,
/// no allocation per update. Not thread-safe: one stream belongs to one asset.
/// </summary>
public abstract class StreamingFeature
{
    private protected StreamingFeature()
    {
    }

    /// <summary>Consumes the next bar and returns the feature's value for it; NaN while undefined.</summary>
    public abstract double Update(in Bar bar);

    /// <summary>The kernel's fields, for a checkpoint's fingerprint (see <see cref="KernelState.Layout"/>).</summary>
    internal abstract string Layout { get; }

    /// <summary>Writes the stream's whole state.</summary>
    internal abstract void Save(BinaryWriter writer);

    /// <summary>Puts back a state <see cref="Save"/> wrote; false (stream unusable) when it does not fit this stream.</summary>
    internal abstract bool Restore(BinaryReader reader);
}

internal sealed class KernelStreamingFeature<T>(T kernel) : StreamingFeature
    where T : struct, IBarKernel
{
    private T _kernel = kernel;

    public override double Update(in Bar bar) => _kernel.Next(bar);

    internal override string Layout => KernelState.Layout(typeof(T));

    internal override void Save(BinaryWriter writer) => KernelState.Write(writer, _kernel);

    internal override bool Restore(BinaryReader reader)
    {
        object boxed = _kernel;  // its arrays are this kernel's own, sized by its parameters
        if (!KernelState.Read(reader, boxed))
        {
            return false;
        }
        _kernel = (T)boxed;
        return true;
    }
}

/// <summary>Builds the kernel for one feature, once per stream and once per batch run.</summary>
internal abstract class KernelFactory
{
    public abstract StreamingFeature CreateStream();

    public abstract void Compute(BarSeries bars, Span<double> output);

    public abstract KernelFactory WithLag(int lag);

    /// <summary>How many bars this feature is delayed by (0 unless it is a lag).</summary>
    public virtual int Lag => 0;
}

internal sealed class KernelFactory<T>(Func<T> create) : KernelFactory
    where T : struct, IBarKernel
{
    public override StreamingFeature CreateStream() => new KernelStreamingFeature<T>(create());

    // The batch form: the same kernel run over the columns, specialised per kernel type so the JIT inlines Next.
    // Not marked AggressiveOptimization: that would keep ReadyToRun from precompiling it. The CLI compiles
    // loops optimised at once instead (TieredCompilationQuickJitForLoops=false).
    public override void Compute(BarSeries bars, Span<double> output)
    {
        T kernel = create();
        ReadOnlySpan<double> open = bars.Open, high = bars.High, low = bars.Low, close = bars.Close, volume = bars.Volume;
        int n = Math.Min(output.Length, close.Length);
        for (int i = 0; i < n; i++)
        {
            output[i] = kernel.Next(new Bar(open[i], high[i], low[i], close[i], volume[i]));
        }
    }

    public override KernelFactory WithLag(int lag) => new LaggedKernelFactory<T>(create, lag);
}

/// <summary>
/// A feature delayed by a number of bars. A lag of a lag is one lag of the summed length, so nesting never
/// builds deeper generic types (which ahead-of-time compilation cannot expand) nor deeper chains of rings.
/// </summary>
internal sealed class LaggedKernelFactory<T>(Func<T> create, int lag) : KernelFactory
    where T : struct, IBarKernel
{
    public override int Lag => lag;

    public override StreamingFeature CreateStream() => new KernelStreamingFeature<LagKernel<T>>(new LagKernel<T>(create(), lag));

    public override void Compute(BarSeries bars, Span<double> output)
    {
        var kernel = new LagKernel<T>(create(), lag);
        ReadOnlySpan<double> open = bars.Open, high = bars.High, low = bars.Low, close = bars.Close, volume = bars.Volume;
        int n = Math.Min(output.Length, close.Length);
        for (int i = 0; i < n; i++)
        {
            output[i] = kernel.Next(new Bar(open[i], high[i], low[i], close[i], volume[i]));
        }
    }

    public override KernelFactory WithLag(int more) => new LaggedKernelFactory<T>(create, checked(lag + more));
}
