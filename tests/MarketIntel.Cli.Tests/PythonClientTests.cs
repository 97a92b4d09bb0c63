using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// The Python client (clients/python) against a live grid: <c>pip install</c> builds the package in a virtual
/// environment over Debian's python3-grpcio, python3-protobuf and python3-pandas, its build step generating the stubs
/// from the shipped .proto files with protoc and gRPC's Python plugin, and the package's own tests (python3 -m unittest)
/// then pass against a grid behind TLS with API keys on: ingest, predict and features as the HTTP API shows them, a
/// stream, the registry, scores, drift, retraining jobs and the errors as GridError with the gRPC status.
/// </summary>
public sealed partial class PythonClientTests : CliTestBase, IAsyncLifetime
{
    private InProcessGrid? _grid;
    private readonly Dictionary<string, string> _environment = [];

    public async Task InitializeAsync()
    {
        var (ca, certificate, key) = TestCertificates.Make(Dir, "grid");
        string keys = Path.Combine(Dir, "keys.json");
        _environment["MARKETINTEL_TEST_ADMIN_KEY"] = Key(keys, "ops", "admin");
        _environment["MARKETINTEL_TEST_READER_KEY"] = Key(keys, "quant", "reader");
        // A serving silo alone: a retraining job waits for a worker, so the tests can read and cancel it.
        _grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["Tls:CertificateFile"] = certificate,
            ["Tls:KeyFile"] = key,
            ["Auth:KeysFile"] = keys,
            ["MarketIntel:Role"] = "serving",
            ["Grid:Drift:Window"] = "50",
        });
        _environment["MARKETINTEL_TEST_TARGET"] = _grid.GrpcTarget.Replace("grpc://", "grpcs://", StringComparison.Ordinal);
        _environment["MARKETINTEL_TEST_HTTP"] = _grid.Http("").Replace("http://", "https://", StringComparison.Ordinal);
        _environment["MARKETINTEL_TEST_CA"] = ca;
        _environment["MARKETINTEL_TEST_MODEL"] = Path.Combine(RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData", "direction-d3-n60.json");
    }

    public async Task DisposeAsync()
    {
        if (_grid is not null)
        {
            await _grid.DisposeAsync();
        }
    }

    private static string Key(string file, string name, string role)
    {
        var (code, key, err) = Run("keys", "create", "--file", file, "--name", name, "--role", role);
        Assert.True(code == 0, err);
        return key.Trim();
    }

    [Fact]
    public async Task Pip_installs_the_package_and_its_own_tests_pass_against_a_live_grid()
    {
        string package = PythonPackage.CopyTo(Dir);
        string venv = Path.Combine(Dir, "venv");
        PythonPackage.Succeed(Dir, PythonPackage.DebianPython, ["-m", "venv", "--system-site-packages", venv]);
        string python = Path.Combine(venv, "bin", "python");
        // Offline and against Debian's setuptools: no index, no isolated build environment to download.
        PythonPackage.Succeed(Dir, python, ["-m", "pip", "install", "--no-build-isolation", "--no-index", package], PythonPackage.BuildEnvironment());

        string tests = Path.Combine(package, "tests");
        // In Dir, so that the installed package (with its generated stubs) is imported, not the copied sources.
        var (code, output) = await Task.Run(() => PythonPackage.Exec(Dir, python, ["-m", "unittest", "discover", "-v", "-s", tests, "-t", tests], _environment));
        Assert.True(code == 0, "python3 -m unittest failed:\n" + output);
        Match ran = RanTests().Match(output);
        Assert.True(ran.Success && int.Parse(ran.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 28, output);
        Assert.DoesNotContain("skipped", output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("test_stream_yields_the_prediction_of_a_bar_ingested_after_it_opened (test_grid.LiveGridTests", output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^Ran (\d+) tests? in", RegexOptions.Multiline)]
    private static partial Regex RanTests();
}

/// <summary>The build step of clients/python names the tool it misses and how to install it, and builds nothing.</summary>
public sealed class PythonClientBuildTests : CliTestBase
{
    [Theory]
    [InlineData("PROTOC", "protobuf-compiler")]
    [InlineData("GRPC_PYTHON_PLUGIN", "protobuf-compiler-grpc")]
    public void A_build_without_a_stub_generator_fails_naming_the_tool_and_its_Debian_package(string variable, string debianPackage)
    {
        string package = PythonPackage.CopyTo(Dir);
        string missing = Path.Combine(Dir, "nowhere", "tool");
        var environment = PythonPackage.BuildEnvironment();
        environment[variable] = missing;
        string wheels = Path.Combine(Dir, "wheels");
        var (code, output) = PythonPackage.Exec(Dir, PythonPackage.DebianPython,
            ["-m", "pip", "wheel", "--no-build-isolation", "--no-index", "--no-deps", "-w", wheels, package], environment);
        Assert.NotEqual(0, code);
        Assert.Contains($"marketintel build: '{missing}' not found (set {variable} to its path, or install Debian's {debianPackage}: apt-get install {debianPackage})", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(wheels) && Directory.EnumerateFiles(wheels).Any(), "a wheel was built");
    }
}

/// <summary>clients/python copied out of the repository and the Python processes that build and test it.</summary>
internal static class PythonPackage
{
    /// <summary>Debian's python3, whose site packages hold python3-grpcio, python3-protobuf and python3-pandas.</summary>
    public static string DebianPython { get; } = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>Copies the package's sources (not what an earlier in-tree build left) into <c>{dir}/package</c>.</summary>
    public static string CopyTo(string dir)
    {
        string source = Path.Combine(RepoPaths.Root, "clients", "python");
        string target = Path.Combine(dir, "package");
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(source, file);
            string first = relative.Split(Path.DirectorySeparatorChar)[0];
            if (first == "build" || first.EndsWith(".egg-info", StringComparison.Ordinal) || relative.Contains("__pycache__", StringComparison.Ordinal))
            {
                continue;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(target, relative))!);
            File.Copy(file, Path.Combine(target, relative));
        }
        return target;
    }

    /// <summary>The copy finds the contract in the repository, as a checkout's clients/python does by its relative path.</summary>
    public static Dictionary<string, string> BuildEnvironment() => new()
    {
        ["MARKETINTEL_PROTO_DIR"] = Path.Combine(RepoPaths.Root, "src", "MarketIntel.Api.Contracts"),
        ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1",
    };

    public static void Succeed(string folder, string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var (code, output) = Exec(folder, file, arguments, environment ?? new Dictionary<string, string>());
        Assert.True(code == 0, $"{file} {string.Join(' ', arguments)} failed ({code}); ./scripts/test.sh installs python3-venv, python3-pip, " +
            $"python3-grpcio, python3-pandas, protobuf-compiler and protobuf-compiler-grpc:\n{output}");
    }

    /// <summary>Runs a process in <paramref name="folder"/> with these variables; its output and errors as one text.</summary>
    public static (int Code, string Output) Exec(string folder, string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        // A virtual environment of the caller's (pyenv, an activated venv) must not change which Python runs.
        start.Environment.Remove("PYTHONPATH");
        start.Environment.Remove("VIRTUAL_ENV");
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var lines = new object();
        process.OutputDataReceived += (_, e) => { lock (lines) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (lines) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // A hung client must fail the test with what it printed, not hold up the suite.
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            lock (lines)
            {
                return (-1, "killed after 5 minutes:\n" + output);
            }
        }
        process.WaitForExit();
        lock (lines)
        {
            return (process.ExitCode, output.ToString());
        }
    }
}
