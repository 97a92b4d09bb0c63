using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MarketIntel.Tests;

/// <summary>
/// A real PostgreSQL server for tests: initdb and pg_ctl into a temporary folder, on a free loopback port, stopped
/// and deleted on dispose. Binaries come from PATH or Debian's /usr/lib/postgresql/N/bin; as root (CI), the server
/// runs as the 'postgres' user, since PostgreSQL refuses to run as root.
/// </summary>
internal sealed class PostgresServer : IDisposable
{
    private readonly string _dir;
    private readonly string _bin;
    private readonly bool _asPostgresUser;

    public int Port { get; }

    private PostgresServer(string dir, string bin, bool asPostgresUser, int port)
    {
        _dir = dir;
        _bin = bin;
        _asPostgresUser = asPostgresUser;
        Port = port;
    }

    /// <summary>Connection string for a database on this server (the server's 'postgres' database by default).</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=marketintel;Database={database};Pooling=true;Timeout=15;Command Timeout=60";

    /// <summary>
    /// Starts a server. <paramref name="durable"/> false turns fsync off: faster, and a test that kills silos (not
    /// the database) loses nothing by it.
    /// </summary>
    public static PostgresServer Start(bool durable = false)
    {
        string bin = FindBin();
        string dir = Directory.CreateTempSubdirectory("mi-pg-").FullName;
        bool asPostgres = Environment.IsPrivilegedProcess;
        if (asPostgres)
        {
            ServerProcess.Run("chown", ["-R", "postgres", dir]);
        }
        int port = ServerProcess.FreePort();
        var server = new PostgresServer(dir, bin, asPostgres, port);
        server.RunTool("initdb", ["-D", server.DataDir, "-A", "trust", "-U", "marketintel", "-E", "UTF8", "--no-sync", "--no-locale"]);
        server.StartServer(durable);
        return server;
    }

    private string DataDir => Path.Combine(_dir, "data");

    private void StartServer(bool durable)
    {
        _durable = durable;
        string settings = $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c max_connections=200" + (durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        RunTool("pg_ctl", ["-D", DataDir, "-o", settings, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60", "start"]);
    }

    private bool _durable;

    /// <summary>Stops the server (fast shutdown), as an outage.</summary>
    public void Stop() => RunTool("pg_ctl", ["-D", DataDir, "-m", "fast", "-w", "stop"]);

    /// <summary>Starts it again on the same port with the same data.</summary>
    public void Restart() => StartServer(_durable);

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public string CreateDatabase(string name)
    {
        using var connection = new Npgsql.NpgsqlConnection(ConnectionString());
        connection.Open();
        using var command = new Npgsql.NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        command.ExecuteNonQuery();
        return ConnectionString(name);
    }

    private void RunTool(string tool, string[] args)
    {
        string path = Path.Combine(_bin, tool);
        if (_asPostgresUser)
        {
            ServerProcess.Run("runuser", ["-u", "postgres", "--", path, .. args]);
        }
        else
        {
            ServerProcess.Run(path, args);
        }
    }

    private static string FindBin()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, "pg_ctl")) && File.Exists(Path.Combine(dir, "initdb")))
            {
                return Path.GetDirectoryName(Path.GetFullPath(ResolveLink(Path.Combine(dir, "pg_ctl"))))!;
            }
        }
        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).Order().LastOrDefault()
            : null;
        return debian ?? throw new InvalidOperationException("PostgreSQL's pg_ctl and initdb were not found (PATH, /usr/lib/postgresql/*/bin): run ./scripts/test.sh, which installs Debian's postgresql");
    }

    private static string ResolveLink(string path) =>
        new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;

    public void Dispose()
    {
        try
        {
            RunTool("pg_ctl", ["-D", DataDir, "-m", "immediate", "-w", "stop"]);
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>
/// A real redis-server for tests on a free loopback port, appending to a log in a temporary folder (so a restart
/// keeps what it held, as a production Redis configured with appendonly does). Stop and Start model an outage.
/// </summary>
internal sealed class RedisServer : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mi-redis-").FullName;
    private Process? _process;

    public int Port { get; } = ServerProcess.FreePort();

    public string Endpoint => $"127.0.0.1:{Port}";

    public static RedisServer Start()
    {
        var server = new RedisServer();
        server.Resume();
        return server;
    }

    /// <summary>(Re)starts the server on the same port with the same data.</summary>
    public void Resume()
    {
        var info = new ProcessStartInfo("redis-server", ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--dir", _dir, "--appendonly", "yes", "--save", "", "--protected-mode", "no"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            _process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server was not found: run ./scripts/test.sh, which installs Debian's redis-server", e);
        }
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        ServerProcess.WaitForPort(Port, TimeSpan.FromSeconds(20), _process);
    }

    /// <summary>Stops the server abruptly (SIGKILL).</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process?.Dispose();
        _process = null;
    }

    public void Dispose()
    {
        Kill();
        Directory.Delete(_dir, recursive: true);
    }
}

internal static class ServerProcess
{
    public static int FreePort() => MarketIntel.Server.Hosting.FreePorts.Pick(1)[0];

    public static void Run(string file, string[] args)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {stderr}{stdout.Result}");
        }
    }

    public static void WaitForPort(int port, TimeSpan timeout, Process? process = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (process is { HasExited: true })
            {
                throw new InvalidOperationException($"the server on port {port} exited with {process.ExitCode} before listening");
            }
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        throw new TimeoutException($"nothing listened on port {port} within {timeout.TotalSeconds} s");
    }
}
