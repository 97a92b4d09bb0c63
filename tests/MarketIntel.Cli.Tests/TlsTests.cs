using MarketIntel.CommandLine;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// The grid behind TLS with a certificate of a test CA's own: ingest over grpcs:// with the key and the CA named,
/// HTTPS for the JSON API and for <c>models</c>, and clients that do not trust the CA refused.
/// </summary>
public sealed class TlsTests : CliTestBase
{
    [Fact]
    public async Task Ingest_and_HTTPS_reach_a_grid_behind_TLS_and_a_client_that_does_not_trust_its_CA_is_refused()
    {
        var (ca, certificate, key) = TestCertificates.Make(Dir);
        string keys = Path.Combine(Dir, "keys.json");
        string writer = Run("keys", "create", "--file", keys, "--name", "feed", "--role", "writer").Out.Trim();
        await using var grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["Tls:CertificateFile"] = certificate,
            ["Tls:KeyFile"] = key,
            ["Auth:KeysFile"] = keys,
            ["MarketIntel:Models:0"] = Path.Combine(RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData", "direction-d3-n60.json"),
        });
        string target = grid.GrpcTarget.Replace("grpc://", "grpcs://", StringComparison.Ordinal);
        string bars = RepoPaths.Data("msft-daily.csv");

        var ingest = Run("ingest", "--target", target, "--asset", "MSFT", "--file", bars, "--api-key", writer, "--tls-ca", ca);
        Assert.True(ingest.Code == 0, ingest.Err);
        Assert.Contains("accepted 249", ingest.Out, StringComparison.Ordinal);

        var untrusted = Run("ingest", "--target", target, "--asset", "MSFT", "--file", bars, "--api-key", writer, "--retries", "0");
        Assert.Equal(2, untrusted.Code);
        var plain = Run("ingest", "--target", grid.GrpcTarget, "--asset", "MSFT", "--file", bars, "--api-key", writer, "--retries", "0");
        Assert.Equal(2, plain.Code);

        using var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = TlsTrust.Validator(ca) } };
        using var https = new HttpClient(handler);
        https.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", writer);
        string body = await https.GetStringAsync(new Uri(grid.Http("/predict/MSFT").Replace("http://", "https://", StringComparison.Ordinal)));
        Assert.Contains("\"asset\":\"MSFT\"", body, StringComparison.Ordinal);
        // The model registry over HTTPS as over grpcs://: the key as a bearer token, the CA named; without the key or
        // without the CA, one line naming the target.
        string httpsTarget = grid.Http("").Replace("http://", "https://", StringComparison.Ordinal);
        var overHttps = Run("models", "list", "--target", httpsTarget, "--api-key", writer, "--tls-ca", ca);
        Assert.True(overHttps.Code == 0, overHttps.Err);
        var overGrpcs = Run("models", "list", "--target", target, "--api-key", writer, "--tls-ca", ca);
        Assert.True(overGrpcs.Code == 0, overGrpcs.Err);
        Assert.Equal(overGrpcs.Out, overHttps.Out);
        Assert.Contains("version(s)", overHttps.Out, StringComparison.Ordinal);
        var keyless = Run("models", "list", "--target", httpsTarget, "--tls-ca", ca);
        Assert.Equal(2, keyless.Code);
        Assert.StartsWith($"marketintel models: {httpsTarget}: 401: ", keyless.Err, StringComparison.Ordinal);
        Assert.Single(keyless.Err.Trim().Split('\n'));
        var caless = Run("models", "list", "--target", httpsTarget, "--api-key", writer);
        Assert.Equal(2, caless.Code);
        Assert.StartsWith($"marketintel models: {httpsTarget}: ", caless.Err, StringComparison.Ordinal);
        using var strict = new HttpClient();
        await Assert.ThrowsAsync<HttpRequestException>(() => strict.GetAsync(new Uri(grid.Http("/healthz").Replace("http://", "https://", StringComparison.Ordinal))));
    }

    [Fact]
    public void A_certificate_that_cannot_be_loaded_stops_the_start_naming_the_setting()
    {
        var (_, certificate, _) = TestCertificates.Make(Dir);
        var (code, _, err) = Run("serve", "--tls-cert", certificate, "--http-port", "1", "--grpc-port", "2");
        Assert.Equal(2, code);
        Assert.Contains("Tls:KeyFile: a PEM certificate needs its private key (--tls-key FILE)", err, StringComparison.Ordinal);
        var missing = Run("serve", "--tls-cert", Path.Combine(Dir, "none.pfx"));
        Assert.Contains($"Tls:CertificateFile '{Path.Combine(Dir, "none.pfx")}' does not exist", missing.Err, StringComparison.Ordinal);
    }
}
