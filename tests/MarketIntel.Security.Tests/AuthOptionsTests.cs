using MarketIntel.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace MarketIntel.Security.Tests;

public sealed class AuthOptionsTests
{
    private static ServerConfigurationException Refused(Dictionary<string, string?> settings) =>
        Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()));

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("192.0.2.10")]
    public void A_silo_listening_beyond_loopback_refuses_to_start_without_keys_and_says_how_to_make_one(string address)
    {
        var e = Refused(new() { ["MarketIntel:ListenAddress"] = address });
        Assert.Contains($"MarketIntel:ListenAddress {address} is beyond loopback: turn API keys on with --api-keys FILE", e.Message, StringComparison.Ordinal);
        Assert.Contains("marketintel keys create --file FILE --name NAME --role admin", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loopback_needs_no_keys_and_keys_make_any_address_acceptable()
    {
        GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["MarketIntel:ListenAddress"] = "::1" }).Build());
        string file = Path.Combine(Directory.CreateTempSubdirectory("marketintel-keys-").FullName, "keys.json");
        File.WriteAllText(file, "{\"keys\": []}");
        GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MarketIntel:ListenAddress"] = "0.0.0.0",
            ["Auth:KeysFile"] = file,
        }).Build());
    }

    [Fact]
    public void A_missing_or_malformed_key_file_is_named()
    {
        Assert.Contains("Auth:KeysFile '/no/such/keys.json' does not exist; create a key with 'marketintel keys create --file /no/such/keys.json",
            Refused(new() { ["Auth:KeysFile"] = "/no/such/keys.json" }).Message, StringComparison.Ordinal);
        string file = Path.Combine(Directory.CreateTempSubdirectory("marketintel-keys-").FullName, "keys.json");
        File.WriteAllText(file, "{\"keys\": [{\"id\": \"abc\", \"name\": \"x y\", \"role\": \"admin\"}]}");
        Assert.Contains($"Auth:KeysFile: {file}: keys[0]: key name 'x y' must be", Refused(new() { ["Auth:KeysFile"] = file }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Auth_in_embedded_mode_needs_a_key_file()
    {
        Assert.Contains("Auth:Enabled: embedded mode keeps keys in a file: start with --api-keys FILE", Refused(new() { ["Auth:Enabled"] = "true" }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tokens_need_an_audience_and_a_key_file_needs_its_issuer()
    {
        var e = Refused(new() { ["Auth:Jwt:SigningKeyFile"] = "/no/such/issuer.pem" });
        Assert.Contains("Auth:Jwt:Audience must be set", e.Message, StringComparison.Ordinal);
        Assert.Contains("Auth:Jwt:Issuer must be set with Auth:Jwt:SigningKeyFile", e.Message, StringComparison.Ordinal);
        Assert.Contains("Auth:Jwt:SigningKeyFile '/no/such/issuer.pem' is not a PEM public key (no such file)", e.Message, StringComparison.Ordinal);
    }
}
