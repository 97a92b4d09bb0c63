namespace MarketIntel.Inference;

/// <summary>A model file that cannot be loaded: unsupported, malformed or inconsistent. The message names what and where.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string source, string problem)
        : base($"{source}: {problem}")
    {
        Source = source;
        Problem = problem;
    }

    public ModelFormatException()
    {
        Problem = string.Empty;
    }

    public ModelFormatException(string message)
        : base(message)
    {
        Problem = message;
    }

    public ModelFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problem = message;
    }

    /// <summary>What is wrong, without the source.</summary>
    public string Problem { get; }
}
