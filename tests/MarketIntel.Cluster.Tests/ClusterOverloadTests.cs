using System.Diagnostics;
using System.Text;
using MarketIntel.Server.Tests;
using Npgsql;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// Ingest faster than PostgreSQL takes it (here: not at all, a lock held on the bars table): the silo's archive queue
/// stays within its bound, refused appends come back as UNAVAILABLE with a retry hint, `marketintel ingest` waits as
/// asked and resends, and once PostgreSQL takes writes again every bar is archived once.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ClusterOverloadTests : IDisposable
{
    private const int Clients = 4;
    private const int BarsEach = 2000;
    private const int Bound = 400;

    private readonly Servers _servers = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("mi-overload-").FullName;
    private SiloProcess? _silo;

    [Fact]
    public async Task Ingest_into_a_stalled_archive_is_bounded_refused_with_a_hint_and_resumed_when_PostgreSQL_takes_writes_again()
    {
        string database = _servers.MigratedDatabase("grid");
        _silo = SiloProcess.Start("overload", _servers.Redis.Endpoint, database,
            new Dictionary<string, string> { ["Postgres__ArchiveBatchRows"] = "200", ["Postgres__ArchiveMaxQueuedRows"] = $"{Bound}" });
        await _silo.WaitReady(TimeSpan.FromSeconds(90));
        string file = ClusterLoad.WriteBarFile(Path.Combine(_dir, "bars.csv"), BarsEach, (i, _) => 100 + Math.Sin(i / 10.0));

        await using var data = NpgsqlDataSource.Create(database);
        // EXCLUSIVE mode blocks inserts but not reads, so the assets' activations (which read the archive) go on.
        await using var blocker = await data.OpenConnectionAsync();
        var transaction = await blocker.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("LOCK TABLE bars IN EXCLUSIVE MODE", blocker, transaction))
        {
            await command.ExecuteNonQueryAsync();
        }

        var ingests = Enumerable.Range(0, Clients).Select(i => StartIngest($"OVER{i}", file)).ToArray();
        using var http = new HttpClient();
        string metrics = $"http://127.0.0.1:{_silo.HttpPort}/metrics";
        var clock = Stopwatch.StartNew();
        double refused = 0;
        while (refused == 0 && clock.Elapsed < TimeSpan.FromMinutes(1))
        {
            var scrape = await Scrape.From(http, metrics);
            refused = scrape.Value("marketintel_archive_refused_rows_total");
            Assert.True(scrape.Value("marketintel_archive_queued_rows") <= Bound, "the archive queue went over its bound");
            await Task.Delay(200);
        }
        Assert.True(refused > 0, "no append was refused while the archive was stalled");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True((await Scrape.From(http, metrics)).Value("marketintel_archive_queued_rows") <= Bound, "the archive queue went over its bound");
        await transaction.RollbackAsync();
        await transaction.DisposeAsync();

        var errors = new StringBuilder();
        foreach (var (process, output, error) in ingests)
        {
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "an ingest did not finish");
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await error}{await output}");
            Assert.Contains($"accepted {BarsEach}, ignored 0, rejected 0", await output, StringComparison.Ordinal);
            errors.Append(await error);
        }
        Assert.Contains("as the server asks", errors.ToString(), StringComparison.Ordinal);
        Assert.Contains("the bar archive is behind PostgreSQL", errors.ToString(), StringComparison.Ordinal);
        await using var count = data.CreateCommand("SELECT count(*), count(DISTINCT (asset, ts)) FROM bars");
        await using var reader = await count.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal((long)Clients * BarsEach, reader.GetInt64(0));
        Assert.Equal((long)Clients * BarsEach, reader.GetInt64(1));
    }

    private (Process Process, Task<string> Output, Task<string> Error) StartIngest(string asset, string file)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "marketintel.dll"), "ingest",
            "--target", $"grpc://127.0.0.1:{_silo!.GrpcPort}", "--asset", asset, "--file", file, "--chunk", "200", "--retries", "1000"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(info)!;
        return (process, process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
    }

    public void Dispose()
    {
        _silo?.Dispose();
        _servers.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
