namespace MarketIntel.Features;

/// <summary>A feature spec that cannot be built; the message names the feature and the parameter at fault.</summary>
public sealed class FeatureSpecException : FormatException
{
    public FeatureSpecException(string feature, string message)
        : base($"feature '{feature}': {message}")
    {
        Feature = feature;
    }

    public FeatureSpecException(string message)
        : base(message)
    {
        Feature = string.Empty;
    }

    public FeatureSpecException()
        : this("invalid feature spec")
    {
    }

    public FeatureSpecException(string message, Exception innerException)
        : base(message, innerException)
    {
        Feature = string.Empty;
    }

    /// <summary>The feature name as written in the spec.</summary>
    public string Feature { get; }
}
