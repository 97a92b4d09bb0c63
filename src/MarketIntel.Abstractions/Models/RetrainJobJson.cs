using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MarketIntel.Abstractions.Models;

/// <summary>
/// The one JSON form of a retraining job: what the HTTP API answers (<c>/models/{name}/retrain...</c>, read back by
/// <c>marketintel retrain</c>), what the job store keeps in PostgreSQL and what a job's model events carry as their
/// detail. The gRPC message (retrain.proto's <c>RetrainJob</c>) has the same fields. A job:
/// <c>{"id":..,"name":..,"trigger":"manual","reason":..,"client":..,"assets":[..],"triggerAssets":[..],"spec":..|null,
/// "label":..|null,"force":false,"state":"running","detail":..,"progress":{"barsRead":N,"rows":N,"foldsDone":F,"folds":F,
/// "roundsDone":R,"rounds":R,"validation":{"auc":..}},"baseVersion":..|null,"version":..|null,"attempt":1,"worker":..|null,
/// "through":"ISO"|null,"createdAt":"ISO","updatedAt":"ISO","finishedAt":"ISO"|null}</c>: triggers and states by their
/// names in camelCase, times ISO 8601 UTC to the millisecond (<c>null</c> for none), a score that is not a finite number
/// <c>null</c>. A start: <c>{"started":..,"reason":..,"job":{..}|null}</c>; a list: <c>{"jobs":[..]}</c>.
/// <para>
/// Records stored before this form (the record serialized as it is: the request nested, times in Unix milliseconds)
/// are read as well, so a job store written by an earlier version still loads.
/// </para>
/// </summary>
public static class RetrainJobJson
{
    // The form stored before this one: System.Text.Json's of the record itself.
    private static readonly JsonSerializerOptions Earlier = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The job as JSON text.</summary>
    public static string Write(RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteJob(json, job);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Writes one job.</summary>
    public static void WriteJob(Utf8JsonWriter json, RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(job);
        RetrainRequest request = job.Request;
        json.WriteStartObject();
        json.WriteString("id", job.Id);
        json.WriteString("name", request.Name);
        json.WriteString("trigger", Name(request.Trigger));
        json.WriteString("reason", request.Reason);
        json.WriteString("client", request.Client);
        Strings(json, "assets", request.Assets);
        Strings(json, "triggerAssets", request.TriggerAssets);
        json.WriteString("spec", request.Spec);
        json.WriteString("label", request.Label);
        json.WriteBoolean("force", request.Force);
        json.WriteString("state", Name(job.State));
        json.WriteString("detail", job.Detail);
        RetrainProgress progress = job.Progress;
        json.WriteStartObject("progress");
        json.WriteNumber("barsRead", progress.BarsRead);
        json.WriteNumber("rows", progress.Rows);
        json.WriteNumber("foldsDone", progress.FoldsDone);
        json.WriteNumber("folds", progress.Folds);
        json.WriteNumber("roundsDone", progress.RoundsDone);
        json.WriteNumber("rounds", progress.Rounds);
        json.WriteStartObject("validation");
        foreach (var (name, value) in (progress.Validation ?? new Dictionary<string, double>()).OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            FeatureJson.NumberOrNull(json, name, value);
        }
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteString("baseVersion", job.BaseVersion);
        json.WriteString("version", job.Version);
        json.WriteNumber("attempt", job.Attempt);
        json.WriteString("worker", job.Worker);
        Time(json, "through", job.Through);
        Time(json, "createdAt", job.CreatedAt);
        Time(json, "updatedAt", job.UpdatedAt);
        Time(json, "finishedAt", job.FinishedAt ?? 0);
        json.WriteEndObject();
    }

    /// <summary>Writes a start's answer: the job started, or why not and the job in the way.</summary>
    public static void WriteStart(Utf8JsonWriter json, RetrainStart start)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(start);
        json.WriteStartObject();
        json.WriteBoolean("started", start.Started);
        json.WriteString("reason", start.Reason);
        json.WritePropertyName("job");
        if (start.Job is { } job)
        {
            WriteJob(json, job);
        }
        else
        {
            json.WriteNullValue();
        }
        json.WriteEndObject();
    }

    /// <summary>Writes a model's jobs.</summary>
    public static void WriteList(Utf8JsonWriter json, IReadOnlyList<RetrainJob> jobs)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(jobs);
        json.WriteStartObject();
        json.WriteStartArray("jobs");
        foreach (RetrainJob job in jobs)
        {
            WriteJob(json, job);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>A job read back from its JSON text (this form or the one stored before it).</summary>
    /// <exception cref="FormatException">The text is not a job's record; the message names the field at fault.</exception>
    public static RetrainJob Read(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            return ReadJob(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new FormatException($"a retraining job's record is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>A job read from its JSON (this form or the one stored before it).</summary>
    /// <exception cref="FormatException">Not a job's record; the message names the field at fault.</exception>
    public static RetrainJob ReadJob(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"a retraining job's record is a JSON object, not {root.ValueKind}");
        }
        if (root.TryGetProperty("request", out JsonElement nested) && nested.ValueKind == JsonValueKind.Object)
        {
            return ReadEarlier(root);
        }
        JsonElement p = Field(root, "progress", JsonValueKind.Object);
        var validation = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (JsonProperty score in Field(p, "validation", JsonValueKind.Object, parent: "progress.").EnumerateObject())
        {
            validation[score.Name] = score.Value.ValueKind switch
            {
                JsonValueKind.Number => score.Value.GetDouble(),
                JsonValueKind.Null => double.NaN,
                _ => throw new FormatException($"a retraining job's 'progress.validation.{score.Name}' is a number or null, not {score.Value.ValueKind}"),
            };
        }
        var progress = new RetrainProgress(Long(p, "barsRead", "progress."), Int(p, "rows", "progress."), Int(p, "foldsDone", "progress."),
            Int(p, "folds", "progress."), Int(p, "roundsDone", "progress."), Int(p, "rounds", "progress."), validation.Count > 0 ? validation : null);
        var request = new RetrainRequest(Text(root, "name"), Named<RetrainTrigger>(root, "trigger"), Text(root, "reason"), Text(root, "client"))
        {
            Assets = Strings(root, "assets"),
            TriggerAssets = root.TryGetProperty("triggerAssets", out _) ? Strings(root, "triggerAssets") : null,  // not written before
            Spec = TextOrNull(root, "spec"),
            Label = TextOrNull(root, "label"),
            Force = Field(root, "force", JsonValueKind.True, JsonValueKind.False).GetBoolean(),
        };
        long finished = Time(root, "finishedAt");
        return new RetrainJob(Text(root, "id"), request, Named<RetrainJobState>(root, "state"), Text(root, "detail"), progress,
            TextOrNull(root, "baseVersion"), TextOrNull(root, "version"), Int(root, "attempt"), TextOrNull(root, "worker"),
            Time(root, "through"), Time(root, "createdAt"), Time(root, "updatedAt"), finished != 0 ? finished : null);
    }

    /// <summary>A start's answer read from its JSON.</summary>
    /// <exception cref="FormatException">Not a start's answer; the message names the field at fault.</exception>
    public static RetrainStart ReadStart(JsonElement root)
    {
        JsonElement job = Field(root, "job", JsonValueKind.Object, JsonValueKind.Null);
        return new RetrainStart(Field(root, "started", JsonValueKind.True, JsonValueKind.False).GetBoolean(),
            job.ValueKind == JsonValueKind.Null ? null : ReadJob(job), Text(root, "reason"));
    }

    /// <summary>A model's jobs read from their JSON.</summary>
    /// <exception cref="FormatException">Not a list of jobs; the message names the field at fault.</exception>
    public static IReadOnlyList<RetrainJob> ReadList(JsonElement root) =>
        [.. Field(root, "jobs", JsonValueKind.Array).EnumerateArray().Select(ReadJob)];

    private static RetrainJob ReadEarlier(JsonElement root)
    {
        RetrainJob? job;
        try
        {
            job = root.Deserialize<RetrainJob>(Earlier);
        }
        catch (JsonException e)
        {
            throw new FormatException($"a retraining job's record (as stored before the HTTP form) is not valid JSON of a job: {e.Message}", e);
        }
        return job is { Id: not null, Request: not null, Detail: not null, Progress: not null } ? job
            : throw new FormatException("a retraining job's record (as stored before the HTTP form) lacks its id, request, detail or progress");
    }

    // ScoreDecay -> scoreDecay.
    private static string Name<T>(T value)
        where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    private static T Named<T>(JsonElement root, string name)
        where T : struct, Enum
    {
        string text = Text(root, name);
        // Names only: Enum.TryParse would take "3" as well.
        T? known = System.Enum.GetValues<T>().Cast<T?>().FirstOrDefault(v => Name(v!.Value) == text);
        return known ?? throw new FormatException(
            $"a retraining job's '{name}' '{text}' is not one of {string.Join(", ", System.Enum.GetValues<T>().Select(v => Name(v)))}");
    }

    private static void Strings(Utf8JsonWriter json, string name, IReadOnlyList<string>? values)
    {
        json.WriteStartArray(name);
        foreach (string value in values ?? [])
        {
            json.WriteStringValue(value);
        }
        json.WriteEndArray();
    }

    // An empty list is none (the request's "not given").
    private static List<string>? Strings(JsonElement root, string name)
    {
        var values = new List<string>();
        foreach (JsonElement value in Field(root, name, JsonValueKind.Array).EnumerateArray())
        {
            values.Add(value.ValueKind == JsonValueKind.String ? value.GetString()!
                : throw new FormatException($"a retraining job's '{name}[{values.Count}]' is a string, not {value.ValueKind}"));
        }
        return values.Count > 0 ? values : null;
    }

    // Times to the millisecond, as the other endpoints write them; 0 ("none") as null.
    private static void Time(Utf8JsonWriter json, string name, long unixMs)
    {
        if (unixMs != 0)
        {
            json.WriteString(name, DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static long Time(JsonElement root, string name)
    {
        JsonElement value = Field(root, name, JsonValueKind.String, JsonValueKind.Null);
        if (value.ValueKind == JsonValueKind.Null)
        {
            return 0;
        }
        return DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset time)
            ? time.ToUnixTimeMilliseconds()
            : throw new FormatException($"a retraining job's '{name}' '{value.GetString()}' is not an ISO 8601 time");
    }

    private static string Text(JsonElement root, string name) => Field(root, name, JsonValueKind.String).GetString()!;

    private static string? TextOrNull(JsonElement root, string name) => Field(root, name, JsonValueKind.String, JsonValueKind.Null).GetString();

    private static int Int(JsonElement root, string name, string parent = "") =>
        Field(root, name, JsonValueKind.Number, parent: parent).TryGetInt32(out int value) ? value
            : throw new FormatException($"a retraining job's '{parent}{name}' is not a 32-bit whole number");

    private static long Long(JsonElement root, string name, string parent = "") =>
        Field(root, name, JsonValueKind.Number, parent: parent).TryGetInt64(out long value) ? value
            : throw new FormatException($"a retraining job's '{parent}{name}' is not a 64-bit whole number");

    private static JsonElement Field(JsonElement root, string name, JsonValueKind kind, JsonValueKind alternative = JsonValueKind.Undefined, string parent = "")
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(name, out JsonElement value))
        {
            throw new FormatException($"a retraining job's record lacks '{parent}{name}'");
        }
        return value.ValueKind == kind || value.ValueKind == alternative ? value
            : throw new FormatException($"a retraining job's '{parent}{name}' is {Kind(kind)}{(alternative is JsonValueKind.Undefined or JsonValueKind.False ? "" : $" or {Kind(alternative)}")}, not {Kind(value.ValueKind)}");
    }

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.True or JsonValueKind.False => "true or false",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
