using MarketIntel.Abstractions;
using MarketIntel.Api.V1;

namespace MarketIntel.Server.Api;

/// <summary>Between the API's messages and the grid's records.</summary>
internal static class Mapping
{
    public static Prediction ToMessage(this PredictionResult result)
    {
        var message = new Prediction
        {
            Asset = result.Asset,
            Value = result.Values.Count > 0 ? result.Values[0] : float.NaN,
            Model = result.Model.Name,
            Version = result.Model.Version,
            AsOf = result.AsOf,
        };
        message.Values.AddRange(result.Values);
        return message;
    }

    public static MarketIntel.Api.V1.ModelInfo ToMessage(this MarketIntel.Abstractions.ModelInfo info)
    {
        var message = new MarketIntel.Api.V1.ModelInfo
        {
            Name = info.Model.Name,
            Version = info.Model.Version,
            Kind = info.Kind,
            FeatureCount = info.FeatureCount,
        };
        if (info.FeatureNames is { } names)
        {
            message.FeatureNames.AddRange(names);
        }
        message.OutputNames.AddRange(info.OutputNames);
        return message;
    }

    public static BarData[] ToBars(this IngestBarsRequest request)
    {
        var bars = new BarData[request.Bars.Count];
        for (int i = 0; i < bars.Length; i++)
        {
            Bar b = request.Bars[i];
            bars[i] = new BarData(b.Timestamp, b.Open, b.High, b.Low, b.Close, b.Volume);
        }
        return bars;
    }

    /// <summary>The asset symbol, or an INVALID_ARGUMENT error naming the field.</summary>
    public static string Asset(string? symbol, string field = "asset")
    {
        if (AssetSymbol.Problem(symbol) is { } problem)
        {
            throw Errors.InvalidArgument($"{field}: {problem}");
        }
        return symbol!;
    }

    /// <summary>A model reference from a request, or an INVALID_ARGUMENT error naming the field.</summary>
    public static ModelRef Model(string name, string version)
    {
        ModelName(name);
        if (string.IsNullOrWhiteSpace(version))
        {
            throw Errors.InvalidArgument($"version: model '{Clip(name)}' needs a version");
        }
        // "@champion" names an alias of the model (resolved per asset when it predicts), not a version.
        CheckModelPart("version", version[0] == ModelRef.AliasMark && version.Length > 1 ? version[1..] : version);
        return new ModelRef(name, version);
    }

    /// <summary>A model name from a request, or an INVALID_ARGUMENT error naming the field.</summary>
    public static string ModelName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw Errors.InvalidArgument("name: a model name is required");
        }
        CheckModelPart("name", name);
        return name;
    }

    /// <summary>The longest model name or version accepted: both travel in every prediction reply.</summary>
    public const int MaxModelPartLength = 128;

    // Names and versions appear in every prediction, in logs and in URLs: short, and letters, digits, '.', '_', '-'.
    internal static void CheckModelPart(string field, string value)
    {
        if (value.Length > MaxModelPartLength)
        {
            throw Errors.InvalidArgument($"{field}: '{Clip(value)}...' is {value.Length} characters long; the limit is {MaxModelPartLength}");
        }
        foreach (char c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-'))
            {
                throw Errors.InvalidArgument($"{field}: '{Clip(value)}' has '{(char.IsControl(c) ? '?' : c)}'; model names and versions are letters, digits, '.', '_' and '-'");
            }
        }
    }

    private static string Clip(string text) => new(text.Take(32).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
