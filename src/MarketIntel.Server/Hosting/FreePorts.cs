using System.Net;
using System.Net.Sockets;

namespace MarketIntel.Server.Hosting;

/// <summary>Loopback ports nobody listens on right now, for a host started in process.</summary>
public static class FreePorts
{
    public static int[] Pick(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        try
        {
            foreach (var l in listeners)
            {
                l.Start();
            }
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var l in listeners)
            {
                l.Stop();
            }
        }
    }
}
