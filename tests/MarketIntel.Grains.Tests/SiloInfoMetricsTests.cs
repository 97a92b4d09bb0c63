using System.Diagnostics.Metrics;
using MarketIntel.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Grains.Tests;

/// <summary><c>marketintel_silo_info</c> names the silo's role and device as the silo metadata does.</summary>
public sealed class SiloInfoMetricsTests
{
    [Theory]
    [InlineData(SiloRole.Worker, 16, "worker", "cpu:16")]
    [InlineData(SiloRole.Serving, 2, "serving", "cpu:2")]
    [InlineData(SiloRole.All, 1, "all", "cpu:1")]
    public void The_silo_info_is_one_series_at_1_labelled_with_the_role_and_device(SiloRole role, int cores, string roleLabel, string deviceLabel)
    {
        using ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory meters = services.GetRequiredService<IMeterFactory>();
        _ = new SiloInfoMetrics(meters, role, WorkerDevice.Cpu(cores));

        var measured = new List<(long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "marketintel_silo_info" && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) => measured.Add((value, new Dictionary<string, object?>(tags.ToArray()))));
        listener.Start();
        listener.RecordObservableInstruments();

        var (value, labels) = Assert.Single(measured);
        Assert.Equal(1, value);
        Assert.Equal(["role", "device"], labels.Keys);
        Assert.Equal((roleLabel, deviceLabel), ((string)labels["role"]!, (string)labels["device"]!));
        Assert.Equal(WorkerDevice.Cpu(cores).Metadata.Single(m => m.Key == WorkerDevice.DeviceKey).Value, deviceLabel);
    }
}
