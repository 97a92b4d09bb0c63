using Microsoft.Extensions.Options;

namespace MarketIntel.Cache.Redis.Hosting;

/// <summary>Checks <see cref="RedisCacheOptions"/> at start, naming every setting at fault.</summary>
public sealed class RedisCacheOptionsValidator : IValidateOptions<RedisCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        const string section = RedisCacheOptions.Section;
        if (string.IsNullOrWhiteSpace(options.Redis))
        {
            failures.Add($"{section}:Redis must be set in cluster mode (--redis HOST:PORT)");
        }
        else
        {
            try
            {
                StackExchange.Redis.ConfigurationOptions.Parse(options.Redis);
            }
            catch (ArgumentException e)
            {
                failures.Add($"{section}:Redis '{RedisCacheOptions.Redact(options.Redis)}' is not a Redis configuration ({e.Message})");
            }
        }
        if (options.CacheFlushInterval < TimeSpan.FromMilliseconds(1) || options.CacheFlushInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{section}:CacheFlushInterval {options.CacheFlushInterval} must be between 00:00:00.001 and 00:01:00");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
