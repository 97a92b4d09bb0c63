using System.Globalization;
using MarketIntel.Features.Kernels;

namespace MarketIntel.Features;

/// <summary>
/// One feature of a spec, parsed from the grammar <c>name_p1_p2...</c> (e.g. <c>sma_20</c>, <c>bbpctb_10_1.5</c>,
/// <c>lag_2_rsi_14</c>). It builds both forms of the feature from one kernel: <see cref="CreateStream"/> for
/// serving and <see cref="Compute(BarSeries)"/> for batch.
/// </summary>
public sealed class FeatureDefinition
{
    /// <summary>Largest window accepted: a larger one is almost certainly a typo and would allocate a lot per asset.</summary>
    public const int MaxPeriod = 100_000;

    private readonly KernelFactory _factory;

    private FeatureDefinition(string name, string indicator, double[] parameters, KernelFactory factory)
    {
        Name = name;
        Indicator = indicator;
        Parameters = parameters;
        _factory = factory;
    }

    /// <summary>The name as written in the spec; it is the output column header.</summary>
    public string Name { get; }

    /// <summary>The indicator part of the name, lower case (<c>sma</c>, <c>lag</c>, ...).</summary>
    public string Indicator { get; }

    /// <summary>The numeric parameters in the order written.</summary>
    public IReadOnlyList<double> Parameters { get; }

    /// <summary>The names every spec may use, with their parameters, for help texts.</summary>
    public static IReadOnlyList<string> Grammar { get; } =
    [
        "sma_N", "ema_N", "wma_N", "rsi_N", "atr_N", "macd_F_S_G", "macdsignal_F_S_G", "bbpctb_N_K", "bbwidth_N_K",
        "roc_N", "stochk_N_D", "stochd_N_D", "obv", "logretsd_N", "cci_N", "adx_N", "wpr_N", "mfi_N", "vwap_N",
        "zscore_N", "logret_K", "lag_L_<feature>", "open", "high", "low", "close", "volume",
    ];

    /// <summary>A new streaming instance of this feature, for one asset.</summary>
    public StreamingFeature CreateStream() => _factory.CreateStream();

    /// <summary>The batch form: one value per bar into <paramref name="output"/>, NaN where undefined.</summary>
    public void Compute(BarSeries bars, Span<double> output)
    {
        ArgumentNullException.ThrowIfNull(bars);
        if (output.Length < bars.Count)
        {
            throw new ArgumentException("output must hold one value per bar", nameof(output));
        }
        _factory.Compute(bars, output);
    }

    /// <summary>The batch form, into a new array.</summary>
    public double[] Compute(BarSeries bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        var output = new double[bars.Count];
        _factory.Compute(bars, output);
        return output;
    }

    /// <summary>Parses one feature name; throws <see cref="FeatureSpecException"/> naming what is wrong.</summary>
    public static FeatureDefinition Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string trimmed = name.Trim();
        if (trimmed.Length == 0)
        {
            throw new FeatureSpecException("empty feature name");
        }
        return Parse(trimmed, trimmed);
    }

    private static FeatureDefinition Parse(string whole, string text)
    {
        string[] parts = text.Split('_');
        string indicator = parts[0].ToLowerInvariant();
        if (indicator == "lag")
        {
            if (parts.Length < 3)
            {
                throw new FeatureSpecException(whole, "a lag is written lag_L_<feature>, e.g. lag_1_rsi_14");
            }
            int lag = Period(whole, "L", parts[1], 1);
            var inner = Parse(whole, string.Join('_', parts, 2, parts.Length - 2));
            if ((long)inner._factory.Lag + lag > MaxPeriod)
            {
                throw new FeatureSpecException(whole, $"the lags add up to {(long)inner._factory.Lag + lag}, more than {MaxPeriod}");
            }
            return new FeatureDefinition(whole, "lag", [lag, .. inner.Parameters], inner._factory.WithLag(lag));
        }

        var p = parts.AsSpan(1);
        KernelFactory factory = indicator switch
        {
            "sma" => One(p, n => new KernelFactory<SmaKernel>(() => new SmaKernel(n))),
            "ema" => One(p, n => new KernelFactory<EmaKernel>(() => new EmaKernel(n))),
            "wma" => One(p, n => new KernelFactory<WmaKernel>(() => new WmaKernel(n))),
            "rsi" => One(p, n => new KernelFactory<RsiKernel>(() => new RsiKernel(n))),
            "atr" => One(p, n => new KernelFactory<AtrKernel>(() => new AtrKernel(n))),
            "roc" or "logret" => One(p, n => new KernelFactory<LogReturnKernel>(() => new LogReturnKernel(n)), name: "K"),
            "logretsd" => One(p, n => new KernelFactory<LogReturnSdKernel>(() => new LogReturnSdKernel(n)), min: 2),
            "cci" => One(p, n => new KernelFactory<CciKernel>(() => new CciKernel(n))),
            "adx" => One(p, n => new KernelFactory<AdxKernel>(() => new AdxKernel(n)), min: 2),
            "wpr" => One(p, n => new KernelFactory<WprKernel>(() => new WprKernel(n))),
            "mfi" => One(p, n => new KernelFactory<MfiKernel>(() => new MfiKernel(n))),
            "vwap" => One(p, n => new KernelFactory<VwapKernel>(() => new VwapKernel(n))),
            "zscore" => One(p, n => new KernelFactory<ZScoreKernel>(() => new ZScoreKernel(n)), min: 2),
            "macd" or "macdsignal" => Macd(p, indicator == "macdsignal"),
            "bbpctb" or "bbwidth" => Bollinger(p, indicator == "bbwidth"),
            "stochk" or "stochd" => Stoch(p, indicator == "stochd"),
            "obv" => None(p, new KernelFactory<ObvKernel>(() => new ObvKernel())),
            "open" => None(p, Field(BarField.Open)),
            "high" => None(p, Field(BarField.High)),
            "low" => None(p, Field(BarField.Low)),
            "close" => None(p, Field(BarField.Close)),
            "volume" => None(p, Field(BarField.Volume)),
            _ => throw new FeatureSpecException(whole, $"unknown indicator '{parts[0]}' (known: {string.Join(", ", Grammar)})"),
        };
        double[] values = new double[p.Length];
        for (int i = 0; i < p.Length; i++)
        {
            values[i] = double.Parse(p[i], NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return new FeatureDefinition(whole, indicator, values, factory);

        KernelFactory One(ReadOnlySpan<string> args, Func<int, KernelFactory> make, int min = 1, string name = "N")
        {
            Arity(args, 1, $"{indicator}_{name}");
            return make(Period(whole, name, args[0], min));
        }

        KernelFactory None(ReadOnlySpan<string> args, KernelFactory made)
        {
            Arity(args, 0, indicator);
            return made;
        }

        KernelFactory Macd(ReadOnlySpan<string> args, bool signal)
        {
            Arity(args, 3, $"{indicator}_F_S_G");
            int fast = Period(whole, "F", args[0], 1);
            int slow = Period(whole, "S", args[1], 1);
            int sig = Period(whole, "G", args[2], 1);
            if (fast >= slow)
            {
                throw new FeatureSpecException(whole, $"fast period F={fast} must be less than slow period S={slow}");
            }
            return new KernelFactory<MacdKernel>(() => new MacdKernel(fast, slow, sig, signal));
        }

        KernelFactory Bollinger(ReadOnlySpan<string> args, bool width)
        {
            Arity(args, 2, $"{indicator}_N_K");
            int n = Period(whole, "N", args[0], 2);
            double k = Number(whole, "K", args[1]);
            if (!(k > 0))
            {
                throw new FeatureSpecException(whole, $"band width K={args[1]} must be greater than 0");
            }
            return new KernelFactory<BollingerKernel>(() => new BollingerKernel(n, k, width));
        }

        KernelFactory Stoch(ReadOnlySpan<string> args, bool emitD)
        {
            Arity(args, 2, $"{indicator}_N_D");
            int n = Period(whole, "N", args[0], 1);
            int d = Period(whole, "D", args[1], 1);
            return new KernelFactory<StochKernel>(() => new StochKernel(n, d, emitD));
        }

        void Arity(ReadOnlySpan<string> args, int count, string form)
        {
            if (args.Length != count)
            {
                throw new FeatureSpecException(whole, $"expected {count} parameter{(count == 1 ? "" : "s")} ({form}), got {args.Length}");
            }
        }
    }

    private static KernelFactory Field(BarField field) => new KernelFactory<FieldKernel>(() => new FieldKernel(field));

    private static double Number(string whole, string name, string text)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            throw new FeatureSpecException(whole, $"parameter {name}='{text}' is not a number");
        }
        return value;
    }

    private static int Period(string whole, string name, string text, int min)
    {
        double value = Number(whole, name, text);
        if (value != Math.Floor(value))
        {
            throw new FeatureSpecException(whole, $"parameter {name}={text} must be a whole number");
        }
        if (value < min || value > MaxPeriod)
        {
            throw new FeatureSpecException(whole, $"parameter {name}={text} must be between {min} and {MaxPeriod}");
        }
        return (int)value;
    }
}
