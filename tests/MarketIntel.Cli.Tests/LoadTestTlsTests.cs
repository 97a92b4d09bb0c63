using System.Globalization;
using System.Text.Json;
using MarketIntel.Grains;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Cli.Tests;

/// <summary>One grid behind TLS for a class's tests: a test CA's certificate, API keys on, a 9-feature model without feature names.</summary>
public sealed class TlsGridFixture : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mi-tls-grid-").FullName;
    private InProcessGrid? _grid;

    /// <summary>The CA that signed the grid's certificate.</summary>
    public string Ca { get; private set; } = "";

    /// <summary>A CA of its own that signed nothing the grid shows.</summary>
    public string OtherCa { get; private set; } = "";

    /// <summary>A key with the writer role: it may push features (seeding) and predict.</summary>
    public string Writer { get; private set; } = "";

    internal InProcessGrid Grid => _grid ?? throw new InvalidOperationException("the grid has not started");

    public async Task InitializeAsync()
    {
        (string ca, string certificate, string key) = TestCertificates.Make(_dir, "grid");
        Ca = ca;
        OtherCa = TestCertificates.Make(_dir, "other").Ca;
        string keys = Path.Combine(_dir, "keys.json");
        var stdout = new StringWriter();
        Assert.Equal(0, Cli.Run(["keys", "create", "--file", keys, "--name", "load", "--role", "writer"], stdout, new StringWriter()));
        Writer = stdout.ToString().Trim();
        _grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["Tls:CertificateFile"] = certificate,
            ["Tls:KeyFile"] = key,
            ["Auth:KeysFile"] = keys,
            ["MarketIntel:Models:0"] = RepoPaths.Fixture("models", "xgb-hist-d6-n60-nonames-nan.json"),
        });
    }

    public async Task DisposeAsync()
    {
        if (_grid is not null)
        {
            await _grid.DisposeAsync();
        }
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>
/// <c>marketintel loadtest</c> against a grid behind TLS with keys on: grpcs:// with one and several calls per
/// connection and https://, seeded over TLS too, answer every call when --tls-ca names the grid's CA; without it, or
/// with another CA, or with a protocol the port does not speak, the command stops before the load with the reason
/// in one line.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class LoadTestTlsTests(TlsGridFixture fixture) : CliTestBase, IClassFixture<TlsGridFixture>
{
    private string Grpcs => fixture.Grid.GrpcTarget.Replace("grpc://", "grpcs://", StringComparison.Ordinal);

    private string Https(string path) => fixture.Grid.Http(path).Replace("http://", "https://", StringComparison.Ordinal);

    private long Predictions() => fixture.Grid.App.Services.GetRequiredService<GridMetrics>().Predictions;

    [Fact]
    public async Task Grpcs_with_one_call_per_connection_seeds_and_answers_every_call_with_the_ca_and_a_key()
    {
        long before = Predictions();
        JsonElement r = await Task.Run(() => LoadTest("--target", Grpcs, "--tls-ca", fixture.Ca, "--api-key", fixture.Writer,
            "--seed-assets", "100", "--features", "9", "--requests", "2000", "--warmup", "0", "--connections", "4"));
        Assert.Equal(2000, r.GetProperty("requests").GetInt64());
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        Assert.Equal(2000, r.GetProperty("predictions").GetInt64());
        // The first request (which checks the target answers) is one more prediction.
        Assert.Equal(2001, Predictions() - before);
        Assert.StartsWith("grpcs://", r.GetProperty("target").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grpcs_with_several_streams_per_connection_answers_every_call_including_batches_over_many_tls_records()
    {
        long before = Predictions();
        JsonElement r = await Task.Run(() => LoadTest("--target", Grpcs, "--tls-ca", fixture.Ca, "--api-key", fixture.Writer,
            "--seed-assets", "100", "--features", "9", "--requests", "3000", "--warmup", "0", "--connections", "2", "--streams", "8"));
        Assert.Equal(3000, r.GetProperty("requests").GetInt64());
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        Assert.Equal(3000, r.GetProperty("predictions").GetInt64());
        Assert.Equal(8, r.GetProperty("streams").GetInt32());
        Assert.Equal(3001, Predictions() - before);

        // 2,000 assets a call: each answer (about 130 KB) spans many HTTP/2 frames and TLS records, four calls at once.
        before = Predictions();
        r = await Task.Run(() => LoadTest("--target", Grpcs, "--tls-ca", fixture.Ca, "--api-key", fixture.Writer,
            "--seed-assets", "2000", "--features", "9", "--batch", "2000", "--requests", "20", "--warmup", "0", "--connections", "1", "--streams", "4"));
        Assert.Equal(20, r.GetProperty("requests").GetInt64());
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        Assert.Equal(20 * 2000, r.GetProperty("predictions").GetInt64());
        Assert.Equal(21 * 2000, Predictions() - before);
    }

    [Fact]
    public async Task Https_seeds_through_put_and_answers_every_request_with_the_ca_and_a_key()
    {
        long before = Predictions();
        JsonElement r = await Task.Run(() => LoadTest("--target", Https("/predict/{asset}"), "--tls-ca", fixture.Ca, "--api-key", fixture.Writer,
            "--seed-assets", "50", "--features", "9", "--requests", "2000", "--warmup", "0", "--connections", "8"));
        Assert.Equal(2000, r.GetProperty("requests").GetInt64());
        Assert.Equal(0, r.GetProperty("errors").GetInt64());
        Assert.Equal(2001, Predictions() - before);
        Assert.StartsWith("https://", r.GetProperty("target").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Without_the_ca_each_target_stops_before_the_load_saying_in_one_line_that_the_certificate_is_not_trusted()
    {
        foreach (string target in new[] { Grpcs, Https("/predict/{asset}") })
        {
            var (code, stdout, stderr) = Run("loadtest", "--target", target, "--api-key", fixture.Writer, "--requests", "10", "--warmup", "0");
            Assert.Equal(2, code);
            Assert.DoesNotContain("requests/s", stdout, StringComparison.Ordinal);
            string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("no answer to a first request: TLS: the server's certificate is not trusted (", line, StringComparison.Ordinal);
            Assert.EndsWith("); --tls-ca CA.pem trusts a CA of your own", line, StringComparison.Ordinal);
        }

        // Seeding goes first, through Grpc.Net.Client or HttpClient: their failure is named in one line too.
        foreach (string target in new[] { Grpcs, Https("/predict/{asset}") })
        {
            var (code, _, stderr) = Run("loadtest", "--target", target, "--api-key", fixture.Writer, "--seed-assets", "5", "--features", "9", "--requests", "10");
            Assert.Equal(2, code);
            string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("seeding: ", line, StringComparison.Ordinal);
            Assert.Contains(" failed: TLS: ", line, StringComparison.Ordinal);
            Assert.EndsWith("(--tls-ca CA.pem trusts a CA of your own)", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void With_another_ca_the_target_is_refused_naming_that_ca()
    {
        var (code, _, stderr) = Run("loadtest", "--target", Grpcs, "--tls-ca", fixture.OtherCa, "--api-key", fixture.Writer, "--requests", "10");
        Assert.Equal(2, code);
        Assert.Contains($"no answer to a first request: TLS: the server's certificate chains neither to the system's roots nor to the CA in --tls-ca '{fixture.OtherCa}'",
            stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_grpcs_target_on_the_http_port_is_refused_because_the_server_does_not_agree_on_h2()
    {
        // The HTTP port speaks HTTP/1.1 only: a gRPC client cannot run there, and says so instead of failing later.
        string target = "grpcs://127.0.0.1:" + fixture.Grid.HttpPort.ToString(CultureInfo.InvariantCulture);
        var (code, _, stderr) = Run("loadtest", "--target", target, "--tls-ca", fixture.Ca, "--api-key", fixture.Writer, "--requests", "10");
        Assert.Equal(2, code);
        Assert.Contains("no answer to a first request: TLS: the server did not agree on HTTP/2 (ALPN h2), which gRPC needs", stderr, StringComparison.Ordinal);
    }
}
