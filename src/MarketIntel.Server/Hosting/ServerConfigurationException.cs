namespace MarketIntel.Server.Hosting;

/// <summary>Settings a host cannot start with; the message names each one.</summary>
public sealed class ServerConfigurationException : Exception
{
    public ServerConfigurationException()
    {
    }

    public ServerConfigurationException(string message)
        : base(message)
    {
    }

    public ServerConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ServerConfigurationException(IReadOnlyList<string> failures)
        : base(string.Join("; ", failures))
    {
    }
}
