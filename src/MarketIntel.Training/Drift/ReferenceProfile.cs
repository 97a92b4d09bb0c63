using System.Globalization;
using System.Text.Json;

namespace MarketIntel.Training.Drift;

/// <summary>
/// A model version's reference profile: for each of its inputs, in the model's column order, and for its prediction,
/// the distribution drift is measured against (<see cref="FeatureReference"/>), with the number of rows it was
/// computed from and where they came from. Written as JSON inside the lineage sidecar (key <c>profile</c>) and
/// stored by the registry beside the version.
/// </summary>
public sealed class ReferenceProfile
{
    /// <summary>The name the prediction's reference goes by.</summary>
    public const string PredictionName = "prediction";

    /// <summary>Creates a profile; feature names must be distinct.</summary>
    public ReferenceProfile(IReadOnlyList<FeatureReference> features, FeatureReference? prediction, long rows, string source)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (FeatureReference feature in features)
        {
            ArgumentNullException.ThrowIfNull(feature);
            if (!seen.Add(feature.Name))
            {
                throw new ArgumentException($"profile: feature '{feature.Name}' appears twice");
            }
        }
        Features = features;
        Prediction = prediction;
        Rows = rows;
        Source = source;
    }

    /// <summary>The inputs' references, in the model's column order.</summary>
    public IReadOnlyList<FeatureReference> Features { get; }

    /// <summary>The prediction's reference (the model's first output on the reference rows), or null when not computed.</summary>
    public FeatureReference? Prediction { get; }

    /// <summary>How many rows the profile was computed from.</summary>
    public long Rows { get; }

    /// <summary>Where the rows came from, for people: e.g. <c>training rows</c>, or a feature-matrix file, or assets and a time range.</summary>
    public string Source { get; }

    /// <summary>Writes the profile as a JSON object.</summary>
    public void WriteJson(Utf8JsonWriter json)
    {
        ArgumentNullException.ThrowIfNull(json);
        json.WriteStartObject();
        json.WriteNumber("rows", Rows);
        json.WriteString("source", Source);
        json.WriteStartArray("features");
        foreach (FeatureReference feature in Features)
        {
            Write(json, feature);
        }
        json.WriteEndArray();
        if (Prediction is null)
        {
            json.WriteNull(PredictionName);
        }
        else
        {
            json.WritePropertyName(PredictionName);
            Write(json, Prediction);
        }
        json.WriteEndObject();
    }

    /// <summary>The profile as compact JSON.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteJson(json);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter json, FeatureReference feature)
    {
        json.WriteStartObject();
        json.WriteString("name", feature.Name);
        json.WriteStartArray("edges");
        foreach (float edge in feature.Edges)
        {
            json.WriteNumberValue(edge);
        }
        json.WriteEndArray();
        json.WriteStartArray("counts");
        foreach (long count in feature.Counts)
        {
            json.WriteNumberValue(count);
        }
        json.WriteEndArray();
        json.WriteNumber("missing", feature.Missing);
        // A reference of no present values has no extent: its min and max are written as null.
        WriteNumberOrNull(json, "min", feature.Min);
        WriteNumberOrNull(json, "max", feature.Max);
        json.WriteEndObject();
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, float value)
    {
        if (float.IsFinite(value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    /// <summary>Reads a profile from the JSON <see cref="WriteJson"/> writes.</summary>
    /// <exception cref="ProfileFormatException">The JSON is not a profile; the message names the place at fault.</exception>
    public static ReferenceProfile Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json);
            return Read(document.RootElement, "profile");
        }
        catch (JsonException e)
        {
            throw new ProfileFormatException($"profile: not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Reads a profile from a JSON element; <paramref name="path"/> names it in errors (e.g. <c>lineage.profile</c>).</summary>
    /// <exception cref="ProfileFormatException">The element is not a profile; the message names the place at fault.</exception>
    public static ReferenceProfile Read(JsonElement element, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ProfileFormatException($"{path}: must be a JSON object");
        }
        long rows = Integer(Property(element, path, "rows"), $"{path}.rows");
        JsonElement sourceElement = Property(element, path, "source");
        string source = sourceElement.ValueKind == JsonValueKind.String ? sourceElement.GetString()!
            : throw new ProfileFormatException($"{path}.source: must be a string");
        JsonElement featuresElement = Property(element, path, "features");
        if (featuresElement.ValueKind != JsonValueKind.Array)
        {
            throw new ProfileFormatException($"{path}.features: must be an array");
        }
        var features = new List<FeatureReference>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonElement feature in featuresElement.EnumerateArray())
        {
            string at = $"{path}.features[{features.Count}]";
            FeatureReference read = ReadFeature(feature, at);
            if (!seen.TryAdd(read.Name, features.Count))
            {
                throw new ProfileFormatException($"{at}.name: '{read.Name}' appears twice (also features[{seen[read.Name]}])");
            }
            features.Add(read);
        }
        FeatureReference? prediction = element.TryGetProperty(PredictionName, out JsonElement p) && p.ValueKind != JsonValueKind.Null
            ? ReadFeature(p, $"{path}.{PredictionName}") : null;
        try
        {
            return new ReferenceProfile(features, prediction, rows, source);
        }
        catch (ArgumentException e)
        {
            throw new ProfileFormatException($"{path}: {e.Message}", e);
        }
    }

    private static FeatureReference ReadFeature(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ProfileFormatException($"{path}: must be a JSON object");
        }
        JsonElement nameElement = Property(element, path, "name");
        string name = nameElement.ValueKind == JsonValueKind.String && nameElement.GetString() is { Length: > 0 } n ? n
            : throw new ProfileFormatException($"{path}.name: must be a non-empty string");
        float[] edges = [.. Array(element, path, "edges").Select((e, i) => Float(e, $"{path}.edges[{i}]"))];
        long[] counts = [.. Array(element, path, "counts").Select((e, i) => Integer(e, $"{path}.counts[{i}]"))];
        long missing = Integer(Property(element, path, "missing"), $"{path}.missing");
        float min = OptionalFloat(Property(element, path, "min"), $"{path}.min");
        float max = OptionalFloat(Property(element, path, "max"), $"{path}.max");
        return FeatureReference.Problem(edges, counts, missing, min, max) is { } problem
            ? throw new ProfileFormatException($"{path}.{problem}")
            : new FeatureReference(name, edges, counts, missing, min, max);
    }

    private static JsonElement Property(JsonElement element, string path, string name) =>
        element.TryGetProperty(name, out JsonElement value) ? value : throw new ProfileFormatException($"{path}: has no '{name}'");

    private static IEnumerable<JsonElement> Array(JsonElement element, string path, string name)
    {
        JsonElement value = Property(element, path, name);
        return value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToList()
            : throw new ProfileFormatException($"{path}.{name}: must be an array");
    }

    private static long Integer(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out long value) && value >= 0 ? value
            : throw new ProfileFormatException($"{path}: must be a whole number of 0 or more, not {element.GetRawText()}");

    private static float Float(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out double value) && float.IsFinite((float)value) ? (float)value
            : throw new ProfileFormatException($"{path}: must be a finite number, not {element.GetRawText()}");

    private static float OptionalFloat(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Null ? float.NaN : Float(element, path);

    /// <summary>A short description for messages: how many features, rows and where from.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"profile of {Features.Count} features over {Rows} rows ({Source})");
}

/// <summary>A reference profile's JSON that is not one; the message names the place at fault.</summary>
public sealed class ProfileFormatException : Exception
{
    public ProfileFormatException() { }

    public ProfileFormatException(string message) : base(message) { }

    public ProfileFormatException(string message, Exception inner) : base(message, inner) { }
}
