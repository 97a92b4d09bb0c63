using System.Text.Json;
using System.Text.Json.Serialization;

namespace MarketIntel.Abstractions.Models;

/// <summary>
/// The one JSON form of a <see cref="RetrainJob"/>: what the job store keeps in PostgreSQL and what a job's model
/// events carry as their detail. Property names in camelCase as the record names them, states and triggers as their
/// names in camelCase (<c>"waiting"</c>, <c>"scoreDecay"</c>), a validation score that is not a number as a string
/// (<c>"NaN"</c>).
/// </summary>
public static class RetrainJobJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The job as JSON.</summary>
    public static string Write(RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return JsonSerializer.Serialize(job, Options);
    }

    /// <summary>A job read back from <see cref="Write"/>'s JSON.</summary>
    /// <exception cref="FormatException">The text is not a job's record; the message says why.</exception>
    public static RetrainJob Read(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        RetrainJob? job;
        try
        {
            job = JsonSerializer.Deserialize<RetrainJob>(json, Options);
        }
        catch (JsonException e)
        {
            throw new FormatException($"a retraining job's record is not valid JSON of a job: {e.Message}", e);
        }
        return job is { Id: not null, Request: not null, Detail: not null, Progress: not null } ? job
            : throw new FormatException("a retraining job's record lacks its id, request, detail or progress");
    }
}
