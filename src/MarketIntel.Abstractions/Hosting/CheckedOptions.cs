using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MarketIntel.Abstractions.Hosting;

/// <summary>
/// How every part of the grid registers its settings, so that a host starts only with valid ones: an options class
/// with its <see cref="IValidateOptions{TOptions}"/> validator, validated when the host starts (ValidateOnStart).
/// </summary>
public static class CheckedOptions
{
    /// <summary>
    /// Registers <typeparamref name="TOptions"/>, checked at start by <paramref name="validator"/>;
    /// <paramref name="configureOptions"/> binds or sets them. Registering the same validator type again adds no
    /// second one, so a host may register the options before the provider that uses them does.
    /// </summary>
    public static OptionsBuilder<TOptions> AddCheckedOptions<TOptions>(this IServiceCollection services, IValidateOptions<TOptions> validator,
        Action<OptionsBuilder<TOptions>>? configureOptions = null)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        var options = services.AddOptions<TOptions>();
        configureOptions?.Invoke(options);
        services.TryAddEnumerable(ServiceDescriptor.Singleton(validator));
        return options.ValidateOnStart();
    }
}
