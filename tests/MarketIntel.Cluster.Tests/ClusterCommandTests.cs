using System.Diagnostics;
using MarketIntel.Tests;

namespace MarketIntel.Cluster.Tests;

/// <summary>`db migrate` and `serve --cluster` as an operator meets them.</summary>
[Collection(ClusterGroup.Name)]
public sealed class ClusterCommandTests(ClusterCommandTests.Shared shared) : IClassFixture<ClusterCommandTests.Shared>
{
    /// <summary>One PostgreSQL and one Redis for the class; each test makes its own database.</summary>
    public sealed class Shared : IDisposable
    {
        internal Servers Servers { get; } = new();

        public void Dispose() => Servers.Dispose();
    }

    private PostgresServer Postgres => shared.Servers.Postgres;

    private RedisServer Redis => shared.Servers.Redis;

    private static (int Code, string Out, string Err) Marketintel(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "marketintel.dll"), .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"marketintel {string.Join(' ', args)} did not exit within 60 s");
        }
        return (process.ExitCode, stdout.Result, stderr);
    }

    [Fact]
    public void Db_migrate_applies_the_schema_once_and_status_reports_it()
    {
        string database = Postgres.CreateDatabase("ops");
        var status = Marketintel("db", "status", "--postgres", database);
        Assert.True(status.Code == 3, $"a never-migrated database must exit 3 so a deploy script stops; got {status.Code}: {status.Err}");
        Assert.Contains("schema version 0", status.Out, StringComparison.Ordinal);

        var first = Marketintel("db", "migrate", "--postgres", database);
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains("applied 0001_initial", first.Out, StringComparison.Ordinal);
        var second = Marketintel("db", "migrate", "--postgres", database);
        Assert.Contains("nothing to do", second.Out, StringComparison.Ordinal);
        var upToDate = Marketintel("db", "status", "--postgres", database);
        Assert.Equal(0, upToDate.Code);
        Assert.Contains("(up to date)", upToDate.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Db_status_exits_4_on_a_schema_newer_than_this_build()
    {
        string database = Postgres.CreateDatabase("ahead");
        Assert.Equal(0, Marketintel("db", "migrate", "--postgres", database).Code);
        using (var connection = new Npgsql.NpgsqlConnection(database))
        {
            connection.Open();
            using var future = new Npgsql.NpgsqlCommand("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_a_newer_build')", connection);
            future.ExecuteNonQuery();
        }
        var status = Marketintel("db", "status", "--postgres", database);
        Assert.Equal(4, status.Code);
        Assert.Contains("newer than this build", status.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Db_predictions_prints_an_assets_logged_predictions_between_two_times_by_version()
    {
        string database = Postgres.CreateDatabase("predictions");
        Assert.Equal(0, Marketintel("db", "migrate", "--postgres", database).Code);
        using (var connection = new Npgsql.NpgsqlConnection(database))
        {
            connection.Open();
            using var rows = new Npgsql.NpgsqlCommand("""
                INSERT INTO prediction_log (asset, ts, name, served_version, served_value, shadow_versions, shadow_values) VALUES
                    ('AAA', 1699999940000, 'dir', 'v1', 0.5,  '{v2}', '{0.5}'),
                    ('AAA', 1700000000000, 'dir', 'v1', 0.25, '{v2,"v,3"}', '{0.75,NULL}'),
                    ('AAA', 1700000060000, 'dir', 'v2', 0.125, '{}', '{}'),
                    ('AAA', 1700000120000, 'dir', 'v2', 0.5,  '{}', '{}'),
                    ('BBB', 1700000000000, 'dir', 'v1', 0.5,  '{}', '{}')
                """, connection);
            rows.ExecuteNonQuery();
        }

        var csv = Marketintel("db", "predictions", "--postgres", database, "--asset", "AAA", "--from", "2023-11-14T22:13:20Z", "--to", "1700000060000", "--csv");
        Assert.True(csv.Code == 0, csv.Err);
        Assert.Equal(
            "timestamp,model,version,role,value\n" +
            "2023-11-14T22:13:20.000Z,dir,v1,served,0.25\n2023-11-14T22:13:20.000Z,dir,v2,shadow,0.75\n2023-11-14T22:13:20.000Z,dir,\"v,3\",shadow,\n" +
            "2023-11-14T22:14:20.000Z,dir,v2,served,0.125\n",
            csv.Out.ReplaceLineEndings("\n"));

        var text = Marketintel("db", "predictions", "--postgres", database, "--asset", "AAA", "--to", "2023-11-14T22:13:20Z");
        Assert.True(text.Code == 0, text.Err);
        Assert.Equal("2023-11-14T22:12:20.000Z dir v1=0.5  shadows v2=0.5\n2023-11-14T22:13:20.000Z dir v1=0.25  shadows v2=0.75 v,3=-\n", text.Out.ReplaceLineEndings("\n"));

        var bad = Marketintel("db", "predictions", "--postgres", database, "--asset", "AAA", "--from", "yesterday");
        Assert.Equal(2, bad.Code);
        Assert.Contains("option '--from': 'yesterday' is neither Unix milliseconds nor a date", bad.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Db_help_documents_the_status_exit_codes()
    {
        var help = Marketintel("db", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("0 when the schema matches this build, 3 when it is behind, 4 when it is newer", help.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Db_migrate_names_a_server_it_cannot_reach()
    {
        var result = Marketintel("db", "migrate", "--postgres", $"Host=127.0.0.1;Port={ServerProcess.FreePort()};Username=x;Password=secret;Timeout=3");
        Assert.Equal(2, result.Code);
        Assert.Contains("cannot reach PostgreSQL at", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_silo_refuses_to_start_on_a_database_that_was_never_migrated()
    {
        string database = Postgres.CreateDatabase("fresh");
        var result = Marketintel("serve", "--cluster", "--redis", Redis.Endpoint, "--postgres", database, "--http-port", $"{ServerProcess.FreePort()}", "--grpc-port", $"{ServerProcess.FreePort()}");
        Assert.Equal(2, result.Code);
        Assert.Contains("run 'marketintel db migrate --postgres CONN' first", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Cluster_mode_needs_its_servers_named()
    {
        var result = Marketintel("serve", "--cluster");
        Assert.Equal(2, result.Code);
        Assert.Contains("Cluster:Redis must be set", result.Err, StringComparison.Ordinal);
        Assert.Contains("Postgres:ConnectionString must be set", result.Err, StringComparison.Ordinal);
        var stray = Marketintel("serve", "--redis", "127.0.0.1:1");
        Assert.Equal(2, stray.Code);
        Assert.Contains("--redis is a cluster-mode option: add --cluster", stray.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_silo_names_a_Redis_it_cannot_reach_in_one_line()
    {
        string database = Postgres.CreateDatabase("noredis");
        Assert.Equal(0, Marketintel("db", "migrate", "--postgres", database).Code);
        var result = Marketintel("serve", "--cluster", "--redis", $"127.0.0.1:{ServerProcess.FreePort()},password=hunter2", "--postgres", database,
            "--http-port", $"{ServerProcess.FreePort()}", "--grpc-port", $"{ServerProcess.FreePort()}");
        Assert.Equal(2, result.Code);
        Assert.Contains("Cluster:Redis: cannot reach Redis at", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result.Err + result.Out, StringComparison.Ordinal);
        Assert.Single(result.Err.Trim().Split('\n'));
    }

    [Fact]
    public async Task Keys_in_PostgreSQL_open_a_silo_started_with_auth_and_a_revocation_reaches_it_without_a_restart()
    {
        string database = Postgres.CreateDatabase("keys");
        Assert.Equal(0, Marketintel("db", "migrate", "--postgres", database).Code);
        var created = Marketintel("keys", "create", "--postgres", database, "--name", "feed", "--role", "writer");
        Assert.True(created.Code == 0, created.Err);
        string key = created.Out.Trim();

        using var silo = SiloProcess.Start("auth", Redis.Endpoint, database, "--auth");
        await silo.WaitReady(TimeSpan.FromSeconds(60));
        Assert.Contains("API keys: on, 1 active, from PostgreSQL", silo.Output, StringComparison.Ordinal);
        var request = new Api.V1.IngestBarsRequest { Asset = "KEYED" };
        request.Bars.Add(new Api.V1.Bar { Timestamp = 1_700_000_000_000L, Open = 10, High = 11, Low = 9, Close = 10.5, Volume = 100 });
        using (var call = silo.Client.IngestBars())
        {
            // The refusal may come before the message is written; the call's own status says why either way.
            try
            {
                await call.RequestStream.WriteAsync(request);
                await call.RequestStream.CompleteAsync();
            }
            catch (Grpc.Core.RpcException)
            {
            }
            var anonymous = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await call.ResponseAsync);
            Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, anonymous.StatusCode);
        }

        var headers = new Grpc.Core.Metadata { { "authorization", "Bearer " + key } };
        using (var call = silo.Client.IngestBars(headers))
        {
            await call.RequestStream.WriteAsync(request);
            await call.RequestStream.CompleteAsync();
            Assert.Equal(1, (await call).Accepted);
        }

        Assert.Equal(Grpc.Core.StatusCode.OK, await Read());
        Assert.Equal(0, Marketintel("keys", "revoke", "--postgres", database, "--name", "feed").Code);
        var clock = Stopwatch.StartNew();
        async Task<Grpc.Core.StatusCode> Read()
        {
            try
            {
                await silo.Client.GetFeaturesAsync(new Api.V1.GetFeaturesRequest { Asset = "KEYED" }, headers, DateTime.UtcNow.AddSeconds(10));
                return Grpc.Core.StatusCode.OK;
            }
            catch (Grpc.Core.RpcException e)
            {
                return e.StatusCode;
            }
        }
        Grpc.Core.StatusCode status = Grpc.Core.StatusCode.OK;
        while (clock.Elapsed < TimeSpan.FromSeconds(15) && status != Grpc.Core.StatusCode.Unauthenticated)
        {
            await Task.Delay(200);
            status = await Read();
        }
        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, status);
    }

    [Fact]
    public void A_silo_listening_beyond_loopback_without_keys_refuses_to_start()
    {
        string database = Postgres.CreateDatabase("open");
        Assert.Equal(0, Marketintel("db", "migrate", "--postgres", database).Code);
        var result = Marketintel("serve", "--cluster", "--redis", Redis.Endpoint, "--postgres", database, "--listen", "0.0.0.0",
            "--http-port", $"{ServerProcess.FreePort()}", "--grpc-port", $"{ServerProcess.FreePort()}");
        Assert.Equal(2, result.Code);
        Assert.Contains("MarketIntel:ListenAddress 0.0.0.0 is beyond loopback: turn API keys on with --auth", result.Err, StringComparison.Ordinal);
    }
}
