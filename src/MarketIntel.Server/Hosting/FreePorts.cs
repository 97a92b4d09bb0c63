using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MarketIntel.Server.Hosting;

/// <summary>
/// Loopback ports nobody listens on right now, for a host started in process or a server a test starts.
/// </summary>
/// <remarks>
/// A port is free only between the check and the bind, so where it comes from matters. Asking the kernel for port 0
/// hands back one from its ephemeral range, the same range every outgoing connection (to Redis, PostgreSQL, another
/// silo) takes its local port from; under load one of them took a port between the pick and the silo's bind, and the
/// silo failed with "address already in use". Ports are therefore drawn at random from below the ephemeral range,
/// where only deliberate binds land, and one process never hands out the same port twice.
/// </remarks>
public static class FreePorts
{
    private const int Lowest = 10_000;
    private static readonly HashSet<int> HandedOut = [];
    private static readonly Random Draw = new();

    public static int[] Pick(int count)
    {
        int highest = EphemeralLow() - 1;
        var picked = new int[count];
        lock (HandedOut)
        {
            for (int i = 0; i < count; i++)
            {
                picked[i] = NextFree(highest);
            }
        }
        return picked;
    }

    private static int NextFree(int highest)
    {
        for (int attempt = 0; attempt < 1_000; attempt++)
        {
            int port = Draw.Next(Lowest, highest + 1);
            if (!HandedOut.Contains(port) && Bindable(port))
            {
                HandedOut.Add(port);
                return port;
            }
        }
        throw new InvalidOperationException($"no free loopback port between {Lowest} and {highest} after 1000 tries");
    }

    private static bool Bindable(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>The first port of the kernel's ephemeral range (Linux); 32768 where it cannot be read.</summary>
    private static int EphemeralLow()
    {
        const int Default = 32_768;
        try
        {
            string[] range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range")
                .Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return range.Length >= 1 && int.TryParse(range[0], CultureInfo.InvariantCulture, out int low) && low > Lowest + 1_000
                ? low
                : Default;
        }
        catch (IOException)
        {
            return Default;
        }
        catch (UnauthorizedAccessException)
        {
            return Default;
        }
    }
}
