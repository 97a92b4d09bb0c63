using System.Globalization;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Grains.Retraining;

/// <summary>How the retraining grains write states, triggers and times in the sentences of a job's detail and answers.</summary>
internal static class RetrainText
{
    /// <summary>A state as the API names it: <c>waiting</c>, <c>running</c>, ...</summary>
    public static string Name(RetrainJobState state) => Camel(state.ToString());

    /// <summary>A trigger as the API names it: <c>manual</c>, <c>scoreDecay</c>, ...</summary>
    public static string Name(RetrainTrigger trigger) => Camel(trigger.ToString());

    /// <summary>A Unix-ms time in UTC, to the second.</summary>
    public static string Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];
}
