using MarketIntel.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace MarketIntel.Server.Tests;

/// <summary>The host's settings are checked whole, one way, before anything is composed from them.</summary>
public sealed class GridConfigurationTests
{
    [Fact]
    public void Every_setting_at_fault_is_named_in_one_refusal_a_value_of_the_wrong_type_included()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MarketIntel:HttpPort"] = "eighty",
            ["Cluster:Enabled"] = "true",
            ["Cluster:CacheFlushInterval"] = "00:05:00",
            ["Limits:MaxConnections"] = "0",
            ["Tls:KeyFile"] = "/no/such/key.pem",
            ["Models:MaxTrees"] = "0",
            ["Models:OnnxMemoryBytes"] = "1024",
            ["Grid:HistoryLength"] = "0",
            ["Grid:MaxActiveAssets"] = "0",
        }).Build();
        var e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(configuration));
        foreach (string setting in new[]
        {
            "MarketIntel:HttpPort", "Cluster:Redis must be set", "Cluster:CacheFlushInterval 00:05:00", "Postgres:ConnectionString must be set",
            "Limits:MaxConnections 0", "Tls:KeyFile is set without Tls:CertificateFile", "Models:MaxTrees must be positive",
            "Models:OnnxMemoryBytes '1024'", "Grid:HistoryLength 0", "Grid:MaxActiveAssets 0",
        })
        {
            Assert.Contains(setting, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_retraining_schedule_and_job_slots_are_checked_at_start_the_schedule_against_the_shortest_reminder()
    {
        IConfiguration With(params (string Key, string Value)[] settings) =>
            new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();
        var e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(With(
            ("Grid:Retraining:Schedule:Every", "00:00:30"), ("Grid:Retraining:Schedule:Models:big", "60.00:00:00"), ("Grid:Retraining:MaxJobsPerWorker", "0"))));
        foreach (string setting in new[]
        {
            "Grid:Retraining:Schedule:Models:big 60.00:00:00 must be 00:00:00 (off) or between 00:00:01 and 49.00:00:00",
            "Grid:Retraining:Schedule: the period 00:00:30 is shorter than Orleans' shortest reminder period 00:01:00",
            "Grid:Retraining:MaxJobsPerWorker 0 must be between 1 and 1024",
        })
        {
            Assert.Contains(setting, e.Message, StringComparison.Ordinal);
        }
        // A lower minimum (tests, demos) lets the same period through.
        GridServer.ReadOptions(With(("Grid:Retraining:Schedule:Every", "00:00:30"), ("Orleans:Reminders:MinimumReminderPeriod", "00:00:05")));
    }

    [Fact]
    public void The_prediction_log_and_automatic_promotion_settings_are_checked_at_start()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:Enabled"] = "true",
            ["Cluster:Redis"] = "127.0.0.1:6379",
            ["Postgres:ConnectionString"] = "Host=127.0.0.1;Username=x",
            ["Postgres:PredictionLogRetention"] = "00:00:10",
            ["Postgres:PredictionLogSweepInterval"] = "00:00:00",
            ["Postgres:PredictionLogMaxQueuedRows"] = "10",
            ["Grid:Promotion:CheckInterval"] = "00:00:00.010",
        }).Build();
        var e = Assert.Throws<ServerConfigurationException>(() => GridServer.ReadOptions(configuration));
        foreach (string setting in new[]
        {
            "Postgres:PredictionLogRetention 00:00:10 must be between 00:01:00", "Postgres:PredictionLogSweepInterval 00:00:00 must be between 00:00:01",
            "Postgres:PredictionLogMaxQueuedRows 10 must be at least ArchiveBatchRows (20000)", "Grid:Promotion:CheckInterval 00:00:00.0100000 must be between 00:00:00.100",
        })
        {
            Assert.Contains(setting, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Cluster_mode_settings_are_not_checked_on_embedded_defaults()
    {
        GridServer.ReadOptions(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:CacheFlushInterval"] = "00:05:00",
            ["Postgres:ArchiveWriters"] = "0",
        }).Build());
    }
}
