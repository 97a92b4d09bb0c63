using MarketIntel.Cache.Redis.Hosting;
using MarketIntel.Grains;
using MarketIntel.Grains.Models;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Grains.Retraining.Triggers;
using MarketIntel.Inference;
using MarketIntel.Server.Cluster;
using MarketIntel.Server.Limits;
using MarketIntel.Server.Security;
using MarketIntel.Storage.Postgres.Hosting;
using MarketIntel.Storage.Postgres.Streaming;
using MarketIntel.Abstractions.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Hosting;

/// <summary>
/// Every setting the host reads, bound one way: each options class from its configuration section with
/// <c>AddOptions().Bind().ValidateOnStart()</c> and its <see cref="IValidateOptions{TOptions}"/> validator, which
/// names each setting at fault. <see cref="GridServer.ReadOptions(IConfiguration)"/> runs the same registrations on their own before
/// the host is composed, so a bad configuration is reported whole, in one <see cref="ServerConfigurationException"/>.
/// </summary>
public static class GridConfiguration
{
    /// <summary>The section of the model limits (<see cref="ModelLimits"/>) and ONNX Runtime's memory budget (<see cref="OnnxMemoryOptions"/>).</summary>
    public const string ModelsSection = "Models";

    /// <summary>The section of Orleans' reminder settings (<see cref="ReminderOptions"/>).</summary>
    public const string ReminderSection = "Orleans:Reminders";

    /// <summary>
    /// Registers every options class of the host, bound from <paramref name="configuration"/> and checked at start;
    /// PostgreSQL's and the Redis cache's only in cluster mode, where they are needed.
    /// </summary>
    public static IServiceCollection AddGridConfiguration(this IServiceCollection services, IConfiguration configuration) =>
        services.AddGridConfiguration(configuration, Environment.GetEnvironmentVariable);

    /// <summary>
    /// As <see cref="AddGridConfiguration(IServiceCollection, IConfiguration)"/>, with the process environment read
    /// through <paramref name="environment"/>: the pod's variables that <c>Cluster:Kubernetes</c> needs are checked
    /// there (tests pass the environment a manifest gives a pod).
    /// </summary>
    public static IServiceCollection AddGridConfiguration(this IServiceCollection services, IConfiguration configuration, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        // Two checks depend on other sections: the listen address (a plain string, read as it is) and the mode
        // (a value that is not a boolean is reported by ClusterModeOptions' own binding, and counts as off here).
        string listen = configuration[$"{ServerOptions.Section}:{nameof(ServerOptions.ListenAddress)}"] ?? new ServerOptions().ListenAddress;
        bool clusterMode = IsClusterMode(configuration);
        services.AddChecked(configuration, ServerOptions.Section, new ServerOptionsValidator());
        services.AddOptions<HostOptions>().Configure<IOptions<ServerOptions>>((host, server) => host.ShutdownTimeout = server.Value.ShutdownTimeout);
        services.AddChecked(configuration, ClusterModeOptions.Section, new ClusterModeOptionsValidator(listen, GridSiloHosting.ServiceId, environment));
        if (clusterMode)
        {
            services.AddMarketIntelRedisCacheOptions(o => o.BindChecked(configuration.GetSection(RedisCacheOptions.Section)));
            services.AddMarketIntelPostgresOptions(o => o.BindChecked(configuration.GetSection(PostgresOptions.Section)));
            services.AddChecked(configuration, TriggerStreamOptions.Section, new TriggerStreamOptionsValidator());
        }
        services.AddChecked(configuration, AuthOptions.Section, new AuthOptionsValidator(listen, clusterMode));
        services.AddChecked(configuration, LimitsOptions.Section, new LimitsOptionsValidator());
        services.AddChecked(configuration, TlsOptions.Section, new TlsOptionsValidator());
        services.AddChecked(configuration, ModelsSection, new ModelLimitsValidator());
        services.AddChecked(configuration, ModelsSection, new OnnxMemoryOptionsValidator());
        services.AddMarketIntelGridOptions(o => o.BindChecked(configuration.GetSection(GridOptions.Section)));
        services.AddMarketIntelPromotionGate(o => o.BindChecked(configuration.GetSection(PromotionGateOptions.Section)));
        services.AddMarketIntelRetrainingOptions(o => o.BindChecked(configuration.GetSection(RetrainingOptions.Section)));
        services.AddChecked(configuration, WorkerSlotsOptions.Section, new WorkerSlotsOptionsValidator());
        services.AddChecked(configuration, WebConsole.ConsoleOptions.Section, new WebConsole.ConsoleOptionsValidator());
        // The shortest reminder period a grain may ask for (Orleans' default: a minute); tests and demos lower it to
        // seconds to see a schedule fire. A schedule is checked against it.
        services.AddOptions<ReminderOptions>().BindChecked(configuration.GetSection(ReminderSection));
        services.AddChecked(configuration, DriftTriggerOptions.Section, new DriftTriggerOptionsValidator());
        services.AddMarketIntelRetrainSchedule(o => o.BindChecked(configuration.GetSection(RetrainScheduleOptions.Section)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RetrainScheduleOptions>, RetrainScheduleReminderValidator>());
        services.AddMarketIntelRetrainTriggers(o => o.BindChecked(configuration.GetSection(RetrainTriggerOptions.Section)));
        return services;
    }

    /// <summary>Whether the configuration turns cluster mode on.</summary>
    public static bool IsClusterMode(IConfiguration configuration) =>
        bool.TryParse(configuration?[$"{ClusterModeOptions.Section}:{nameof(ClusterModeOptions.Enabled)}"], out bool on) && on;

    /// <summary>
    /// Binds like <see cref="OptionsBuilderConfigurationExtensions.Bind{TOptions}(OptionsBuilder{TOptions}, IConfiguration)"/>,
    /// but a value of the wrong type (a port that is not a number) fails validation with the binder's message, which
    /// names the key, instead of throwing past the other checks: a start lists it with every other setting at fault.
    /// </summary>
    public static OptionsBuilder<TOptions> BindChecked<TOptions>(this OptionsBuilder<TOptions> options, IConfiguration section)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Configure(o =>
        {
            try
            {
                section.Bind(o);
            }
            catch (InvalidOperationException e)
            {
                throw new OptionsValidationException(options.Name, typeof(TOptions),
                    [e.InnerException is null ? e.Message : $"{e.Message} ({e.InnerException.Message})"]);
            }
        });
    }

    /// <summary>The options of a section as configured, for composing the host once <see cref="GridServer.ReadOptions(IConfiguration)"/> has checked them.</summary>
    internal static TOptions Bound<TOptions>(this IConfiguration configuration, string section)
        where TOptions : class, new() =>
        configuration.GetSection(section).Get<TOptions>() ?? new TOptions();

    /// <summary>Runs every options check registered with ValidateOnStart; throws one exception naming every failure.</summary>
    internal static void Validate(IServiceProvider services)
    {
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch (OptionsValidationException e)
        {
            throw new ServerConfigurationException([.. e.Failures]);
        }
        catch (AggregateException e) when (e.InnerExceptions.All(inner => inner is OptionsValidationException))
        {
            throw new ServerConfigurationException([.. e.InnerExceptions.Cast<OptionsValidationException>().SelectMany(inner => inner.Failures)]);
        }
    }

    private static void AddChecked<TOptions>(this IServiceCollection services, IConfiguration configuration, string section, IValidateOptions<TOptions> validator)
        where TOptions : class =>
        services.AddCheckedOptions(validator, o => o.BindChecked(configuration.GetSection(section)));
}

/// <summary>ONNX Runtime's memory budget for the whole process (configuration key <c>Models:OnnxMemoryBytes</c>; unset: its default).</summary>
public sealed class OnnxMemoryOptions
{
    /// <summary>The budget in bytes, from 1 MiB to 4 GiB - 1 (<see cref="Inference.Onnx.OnnxRuntimeMemory"/>).</summary>
    public long? OnnxMemoryBytes { get; set; }
}

/// <summary>Checks <see cref="OnnxMemoryOptions"/> at start.</summary>
public sealed class OnnxMemoryOptionsValidator : IValidateOptions<OnnxMemoryOptions>
{
    public ValidateOptionsResult Validate(string? name, OnnxMemoryOptions options) =>
        options?.OnnxMemoryBytes is { } bytes && (bytes < 1L << 20 || bytes > uint.MaxValue)
            ? ValidateOptionsResult.Fail($"{GridConfiguration.ModelsSection}:OnnxMemoryBytes '{bytes}' must be a number of bytes from 1048576 (1 MiB) to 4294967295")
            : ValidateOptionsResult.Success;
}

/// <summary>Checks the <see cref="ModelLimits"/> a host binds (section <c>Models</c>): each must be positive.</summary>
public sealed class ModelLimitsValidator : IValidateOptions<ModelLimits>
{
    public ValidateOptionsResult Validate(string? name, ModelLimits options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentOutOfRangeException e)
        {
            return ValidateOptionsResult.Fail($"{GridConfiguration.ModelsSection}:{e.ParamName} must be positive");
        }
    }
}
