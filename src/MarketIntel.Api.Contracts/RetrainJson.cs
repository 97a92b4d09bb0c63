using System.Globalization;
using System.Text.Json;

namespace MarketIntel.Api.V1;

/// <summary>
/// The retraining endpoints' JSON (<c>/models/{name}/retrain...</c>), written by the server and read by
/// <c>marketintel retrain</c>, from and into the gRPC messages, so both APIs answer the same. A job:
/// <c>{"id":..,"name":..,"trigger":"manual","reason":..,"client":..,"assets":[..],"spec":..|null,"label":..|null,
/// "force":false,"state":"running","detail":..,"progress":{"barsRead":N,"rows":N,"foldsDone":F,"folds":F,"roundsDone":R,
/// "rounds":R,"validation":{"auc":..}},"baseVersion":..|null,"version":..|null,"attempt":1,"worker":..|null,
/// "through":"ISO"|null,"createdAt":"ISO","updatedAt":"ISO","finishedAt":"ISO"|null}</c>; a start
/// <c>{"started":..,"reason":..,"job":{..}|null}</c>; a list <c>{"jobs":[..]}</c>.
/// </summary>
public static class RetrainJson
{
    /// <summary>Writes a start's answer (202 when started, 409 when the debounce held it back).</summary>
    public static void Write(Utf8JsonWriter json, RetrainStartReply reply)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(reply);
        json.WriteStartObject();
        json.WriteBoolean("started", reply.Started);
        json.WriteString("reason", reply.Reason);
        json.WritePropertyName("job");
        if (reply.Job is { } job)
        {
            Write(json, job);
        }
        else
        {
            json.WriteNullValue();
        }
        json.WriteEndObject();
    }

    /// <summary>Writes a model's jobs.</summary>
    public static void Write(Utf8JsonWriter json, RetrainJobList list)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(list);
        json.WriteStartObject();
        json.WriteStartArray("jobs");
        foreach (RetrainJob job in list.Jobs)
        {
            Write(json, job);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Writes one job.</summary>
    public static void Write(Utf8JsonWriter json, RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(job);
        json.WriteStartObject();
        json.WriteString("id", job.Id);
        json.WriteString("name", job.Name);
        json.WriteString("trigger", job.Trigger);
        json.WriteString("reason", job.Reason);
        json.WriteString("client", job.Client);
        json.WriteStartArray("assets");
        foreach (string asset in job.Assets)
        {
            json.WriteStringValue(asset);
        }
        json.WriteEndArray();
        StringOrNull(json, "spec", job.Spec);
        StringOrNull(json, "label", job.Label);
        json.WriteBoolean("force", job.Force);
        json.WriteString("state", job.State);
        json.WriteString("detail", job.Detail);
        RetrainProgress progress = job.Progress ?? new RetrainProgress();
        json.WriteStartObject("progress");
        json.WriteNumber("barsRead", progress.BarsRead);
        json.WriteNumber("rows", progress.Rows);
        json.WriteNumber("foldsDone", progress.FoldsDone);
        json.WriteNumber("folds", progress.Folds);
        json.WriteNumber("roundsDone", progress.RoundsDone);
        json.WriteNumber("rounds", progress.Rounds);
        json.WriteStartObject("validation");
        foreach (var (name, value) in progress.Validation.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            ScoresJson.Number(json, name, value);
        }
        json.WriteEndObject();
        json.WriteEndObject();
        StringOrNull(json, "baseVersion", job.BaseVersion);
        StringOrNull(json, "version", job.Version);
        json.WriteNumber("attempt", job.Attempt);
        StringOrNull(json, "worker", job.Worker);
        TimeOrNull(json, "through", job.Through);
        TimeOrNull(json, "createdAt", job.CreatedAt);
        TimeOrNull(json, "updatedAt", job.UpdatedAt);
        TimeOrNull(json, "finishedAt", job.FinishedAt);
        json.WriteEndObject();
    }

    /// <summary>Reads a start's answer; throws <see cref="KeyNotFoundException"/> or <see cref="InvalidOperationException"/> on another shape.</summary>
    public static RetrainStartReply ReadStart(JsonElement root)
    {
        var reply = new RetrainStartReply { Started = root.GetProperty("started").GetBoolean(), Reason = root.GetProperty("reason").GetString() ?? "" };
        if (root.GetProperty("job") is { ValueKind: JsonValueKind.Object } job)
        {
            reply.Job = ReadJob(job);
        }
        return reply;
    }

    /// <summary>Reads a model's jobs.</summary>
    public static RetrainJobList ReadList(JsonElement root)
    {
        var list = new RetrainJobList();
        list.Jobs.AddRange(root.GetProperty("jobs").EnumerateArray().Select(ReadJob));
        return list;
    }

    /// <summary>Reads one job.</summary>
    public static RetrainJob ReadJob(JsonElement root)
    {
        JsonElement p = root.GetProperty("progress");
        var progress = new RetrainProgress
        {
            BarsRead = p.GetProperty("barsRead").GetInt64(),
            Rows = p.GetProperty("rows").GetInt32(),
            FoldsDone = p.GetProperty("foldsDone").GetInt32(),
            Folds = p.GetProperty("folds").GetInt32(),
            RoundsDone = p.GetProperty("roundsDone").GetInt32(),
            Rounds = p.GetProperty("rounds").GetInt32(),
        };
        foreach (JsonProperty score in p.GetProperty("validation").EnumerateObject())
        {
            progress.Validation[score.Name] = score.Value.ValueKind == JsonValueKind.Null ? double.NaN : score.Value.GetDouble();
        }
        var job = new RetrainJob
        {
            Id = root.GetProperty("id").GetString() ?? "",
            Name = root.GetProperty("name").GetString() ?? "",
            Trigger = root.GetProperty("trigger").GetString() ?? "",
            Reason = root.GetProperty("reason").GetString() ?? "",
            Client = root.GetProperty("client").GetString() ?? "",
            Spec = String(root, "spec"),
            Label = String(root, "label"),
            Force = root.GetProperty("force").GetBoolean(),
            State = root.GetProperty("state").GetString() ?? "",
            Detail = root.GetProperty("detail").GetString() ?? "",
            Progress = progress,
            BaseVersion = String(root, "baseVersion"),
            Version = String(root, "version"),
            Attempt = root.GetProperty("attempt").GetInt32(),
            Worker = String(root, "worker"),
            Through = Time(root, "through"),
            CreatedAt = Time(root, "createdAt"),
            UpdatedAt = Time(root, "updatedAt"),
            FinishedAt = Time(root, "finishedAt"),
        };
        job.Assets.AddRange(root.GetProperty("assets").EnumerateArray().Select(a => a.GetString() ?? ""));
        return job;
    }

    private static void StringOrNull(Utf8JsonWriter json, string name, string value)
    {
        if (value.Length > 0)
        {
            json.WriteString(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    // Times as the other endpoints write them (ISO 8601 UTC, milliseconds); 0, "none", as null.
    private static void TimeOrNull(Utf8JsonWriter json, string name, long unixMs)
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

    private static string String(JsonElement root, string name) => root.GetProperty(name) is { ValueKind: JsonValueKind.String } value ? value.GetString()! : "";

    private static long Time(JsonElement root, string name) =>
        root.GetProperty(name) is { ValueKind: JsonValueKind.String } value
            ? DateTimeOffset.Parse(value.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeMilliseconds()
            : 0;
}
