using System.Diagnostics.Metrics;
using MarketIntel.Server.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Server.Tests;

/// <summary>
/// The export of the grid's meters: each instrument under its own name, of the Prometheus type its kind means, with
/// its tags as labels in the order measured, and only the meters of its own host.
/// </summary>
public sealed class PrometheusExportTests : IDisposable
{
    private readonly ServiceProvider _host = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly ServiceProvider _otherHost = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly PrometheusExport _export;
    private readonly Meter _meter;
    // Unique per test: the registry is the process's.
    private readonly string _prefix = $"marketintel_export_test_{Guid.NewGuid():N}"[..40];

    public PrometheusExportTests()
    {
        PrometheusExport.ExcludeFromMeterAdapter();
        IMeterFactory meters = _host.GetRequiredService<IMeterFactory>();
        _export = new PrometheusExport(meters);
        _meter = meters.Create(PrometheusExport.Prefix + "ExportTest");
    }

    private static async Task<Scrape> ScrapeRegistry()
    {
        using var text = new MemoryStream();
        await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(text);
        return Scrape.Parse(System.Text.Encoding.UTF8.GetString(text.ToArray()));
    }

    [Fact]
    public async Task An_observed_counter_is_served_as_a_counter_at_the_total_it_reports()
    {
        long total = 5;
        _meter.CreateObservableCounter(_prefix + "_observed_total", () => total, unit: null, "observed");
        Assert.Equal(5, (await ScrapeRegistry()).Value(_prefix + "_observed_total"));

        total = 12;
        Scrape scrape = await ScrapeRegistry();
        Assert.Equal(12, scrape.Value(_prefix + "_observed_total"));
        Assert.Equal("counter", scrape.Type(_prefix + "_observed_total"));
        Assert.Equal("observed", scrape.Help(_prefix + "_observed_total"));
    }

    [Fact]
    public async Task A_counter_adds_up_per_series_with_the_tags_as_labels_in_the_order_measured()
    {
        Counter<long> counter = _meter.CreateCounter<long>(_prefix + "_added_total");
        counter.Add(2, new KeyValuePair<string, object?>("zeta", "z"), new KeyValuePair<string, object?>("alpha", "a"));
        counter.Add(3, new KeyValuePair<string, object?>("zeta", "z"), new KeyValuePair<string, object?>("alpha", "a"));
        counter.Add(1, new KeyValuePair<string, object?>("zeta", "other"), new KeyValuePair<string, object?>("alpha", "a"));

        Scrape scrape = await ScrapeRegistry();
        Assert.Equal("counter", scrape.Type(_prefix + "_added_total"));
        Assert.Equal(5, scrape.Value(_prefix + "_added_total", "zeta=\"z\"", "alpha=\"a\""));
        Assert.Equal(1, scrape.Value(_prefix + "_added_total", "zeta=\"other\"", "alpha=\"a\""));
    }

    [Fact]
    public async Task Series_are_told_apart_by_value_whether_their_tags_are_the_objects_kept_or_equal_ones()
    {
        // The export recognises the series last recorded by its tag objects; equal text in other objects is the same
        // series, other text another, in whatever order they come.
        Counter<long> counter = _meter.CreateCounter<long>(_prefix + "_kept_total");
        KeyValuePair<string, object?> a = new("model", "m@1"), b = new("model", "m@2");
        KeyValuePair<string, object?> aAgain = new("model", string.Concat("m@", "1"));
        Assert.NotSame(a.Value, aAgain.Value);
        counter.Add(1, a);
        counter.Add(10, a);
        counter.Add(100, b);
        counter.Add(1000, aAgain);
        counter.Add(10000, a);
        counter.Add(100000, b);
        counter.Add(5, new KeyValuePair<string, object?>("model", 7));
        counter.Add(5, new KeyValuePair<string, object?>("model", 7));

        Scrape scrape = await ScrapeRegistry();
        Assert.Equal(11011, scrape.Value(_prefix + "_kept_total", "model=\"m@1\""));
        Assert.Equal(100100, scrape.Value(_prefix + "_kept_total", "model=\"m@2\""));
        Assert.Equal(10, scrape.Value(_prefix + "_kept_total", "model=\"7\""));
    }

    [Fact]
    public async Task An_observed_gauge_is_a_gauge_and_a_histogram_takes_the_buckets_its_instrument_advises()
    {
        _meter.CreateObservableGauge(_prefix + "_level", () => -3L);
        Histogram<double> histogram = _meter.CreateHistogram(_prefix + "_seconds", "s", null, tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 2] });
        histogram.Record(1);
        histogram.Record(3);

        Scrape scrape = await ScrapeRegistry();
        Assert.Equal("gauge", scrape.Type(_prefix + "_level"));
        Assert.Equal(-3, scrape.Value(_prefix + "_level"));
        Assert.Equal("histogram", scrape.Type(_prefix + "_seconds"));
        Assert.Equal(0, scrape.Value(_prefix + "_seconds_bucket", "le=\"0.5\""));
        Assert.Equal(1, scrape.Value(_prefix + "_seconds_bucket", "le=\"2\""));
        Assert.Equal(2, scrape.Value(_prefix + "_seconds_bucket", "le=\"+Inf\""));
        Assert.Equal(4, scrape.Value(_prefix + "_seconds_sum"));
    }

    [Fact]
    public async Task Another_hosts_meters_and_meters_not_of_the_grid_are_left_alone()
    {
        Meter other = _otherHost.GetRequiredService<IMeterFactory>().Create(PrometheusExport.Prefix + "ExportTest");
        other.CreateObservableCounter(_prefix + "_elsewhere_total", () => 1L);
        Meter foreign = _host.GetRequiredService<IMeterFactory>().Create("Someone.Else");
        foreign.CreateObservableCounter(_prefix + "_foreign_total", () => 1L);

        Scrape scrape = await ScrapeRegistry();
        Assert.Null(scrape.Type(_prefix + "_elsewhere_total"));
        Assert.Null(scrape.Type(_prefix + "_foreign_total"));
    }

    public void Dispose()
    {
        _export.Dispose();
        _host.Dispose();
        _otherHost.Dispose();
    }
}
