using System.Diagnostics.Metrics;

namespace MarketIntel.Grains.Placement;

/// <summary>
/// The silo's role and job device on <c>/metrics</c>, as Prometheus' info pattern has it: one series,
/// <c>marketintel_silo_info{role,device}</c>, always 1, so dashboards can count silos by role and join a silo's other
/// series with its role.
/// </summary>
public sealed class SiloInfoMetrics
{
    /// <summary>The meter the silo's info is on.</summary>
    public const string MeterName = "MarketIntel.Silo";

    /// <summary>Creates the gauge on the silo's meter factory.</summary>
    public SiloInfoMetrics(IMeterFactory meters, SiloRole role, WorkerDevice device)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(device);
        KeyValuePair<string, object?>[] tags = [new("role", role.Name()), new("device", device.Device)];
        meters.Create(MeterName).CreateObservableGauge("marketintel_silo_info", () => new Measurement<long>(1, tags), unit: null,
            "Always 1: this silo's role (serving, worker or all) and the device it runs jobs on (cpu:N)");
    }
}
