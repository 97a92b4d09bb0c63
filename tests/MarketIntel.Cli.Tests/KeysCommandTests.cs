using MarketIntel.Abstractions;
using MarketIntel.Server.Security;

namespace MarketIntel.Cli.Tests;

/// <summary>`marketintel keys` on a key file, and the commands that call the grid sending a key.</summary>
public sealed class KeysCommandTests : CliTestBase
{
    private string File => Path.Combine(Dir, "keys.json");

    [Fact]
    public async Task A_created_key_is_printed_once_stored_as_its_hash_listed_and_revoked()
    {
        var (code, key, err) = Run("keys", "create", "--file", File, "--name", "ops", "--role", "admin");
        Assert.True(code == 0, err);
        key = key.Trim();
        Assert.StartsWith("mik_", key, StringComparison.Ordinal);
        Assert.Contains("created admin key 'ops'", err, StringComparison.Ordinal);
        Assert.DoesNotContain(key, System.IO.File.ReadAllText(File), StringComparison.Ordinal);
        var stored = Assert.Single(await new FileApiKeyStore(File).List());
        Assert.True(ApiKeys.Matches(key, stored));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, System.IO.File.GetUnixFileMode(File));
        }

        var list = Run("keys", "list", "--file", File);
        Assert.Contains($"{stored.Id}  ops", list.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(key, list.Out, StringComparison.Ordinal);

        Assert.Equal((0, "revoked admin key 'ops' (id " + stored.Id + ")\n"), (Run("keys", "revoke", "--file", File, "--name", "ops") is var r ? (r.Code, r.Out) : default));
        Assert.False(Assert.Single(await new FileApiKeyStore(File).List()).IsActive);
    }

    [Theory]
    [InlineData(new[] { "keys", "create", "--name", "a", "--role", "admin" }, "give either --file FILE (embedded mode) or --postgres CONN (cluster mode)")]
    [InlineData(new[] { "keys", "create", "--file", "F", "--name", "a", "--role", "root" }, "role 'root' must be reader, writer or admin")]
    [InlineData(new[] { "keys", "create", "--file", "F", "--name", "a b", "--role", "admin" }, "key name 'a b' must be 1-64 characters")]
    [InlineData(new[] { "keys", "revoke", "--file", "F", "--name", "nobody" }, "no active key is named 'nobody'")]
    [InlineData(new[] { "keys", "rotate" }, "expected 'create', 'list' or 'revoke' after 'keys'")]
    public void Mistakes_are_named_in_one_line_with_exit_code_2(string[] args, string message)
    {
        string[] withFile = args.Select(a => a == "F" ? File : a).ToArray();
        if (args.Contains("revoke"))
        {
            Run("keys", "create", "--file", File, "--name", "someone", "--role", "reader");
        }
        var (code, _, err) = Run(withFile);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void A_second_active_key_with_a_name_in_use_is_refused_and_the_file_keeps_the_first()
    {
        Run("keys", "create", "--file", File, "--name", "ops", "--role", "admin");
        var (code, _, err) = Run("keys", "create", "--file", File, "--name", "ops", "--role", "reader");
        Assert.Equal(2, code);
        Assert.Contains("an active key is already named 'ops'", err, StringComparison.Ordinal);
        Assert.Contains("\"role\": \"admin\"", System.IO.File.ReadAllText(File), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_and_loadtest_send_the_key_and_a_reader_key_cannot_ingest()
    {
        string writer = Run("keys", "create", "--file", File, "--name", "feed", "--role", "writer").Out.Trim();
        string reader = Run("keys", "create", "--file", File, "--name", "quant", "--role", "reader").Out.Trim();
        await using var grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:KeysFile"] = File,
            ["MarketIntel:Models:0"] = Path.Combine(MarketIntel.Tests.RepoPaths.Root, "src", "MarketIntel.Cli", "SampleData", "direction-d3-n60.json"),
        });
        string bars = MarketIntel.Tests.RepoPaths.Data("msft-daily.csv");

        var denied = Run("ingest", "--target", grid.GrpcTarget, "--asset", "MSFT", "--file", bars, "--api-key", reader);
        Assert.Equal(2, denied.Code);
        Assert.Contains("PermissionDenied: key 'quant' has role reader; /marketintel.v1.Grid/IngestBars needs writer", denied.Err, StringComparison.Ordinal);
        var none = Run("ingest", "--target", grid.GrpcTarget, "--asset", "MSFT", "--file", bars);
        Assert.Contains("Unauthenticated", none.Err, StringComparison.Ordinal);

        var ingest = Run("ingest", "--target", grid.GrpcTarget, "--asset", "MSFT", "--file", bars, "--api-key", writer);
        Assert.True(ingest.Code == 0, ingest.Err);
        Assert.Contains("accepted 249", ingest.Out, StringComparison.Ordinal);

        foreach (string target in new[] { grid.GrpcTarget, grid.Http("/predict/{asset}") })
        {
            var figures = LoadTest("--target", target, "--symbols", "MSFT", "--connections", "2", "--requests", "200", "--warmup", "0", "--api-key", reader);
            Assert.Equal(0, figures.GetProperty("errors").GetInt64());
        }
    }
}
