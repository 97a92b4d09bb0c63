using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MarketIntel.Api.V1;
using MarketIntel.Tests;

namespace MarketIntel.Cluster.Tests;

/// <summary>
/// What the retraining tests do to a real grid over its HTTP API: register a champion that knows nothing (p(up) = 0.5
/// from <c>roc_1</c>, label <c>up_1</c>) with a lineage a job can retrain from, start and read jobs, and read the
/// registry. Bars come in two regimes: a calm random walk, then runs of 25 rising and 25 falling bars, where the last
/// bar's move predicts the next one's (so a challenger trained on them beats the champion, and its <c>roc_1</c> of
/// plus or minus 1% lies far outside the calm walk's, which the drift window sees).
/// </summary>
internal sealed class RetrainGrid(SiloProcess silo) : IDisposable
{
    public const string Model = "dir";
    public const string Champion = "flat";

    private readonly HttpClient _http = new() { BaseAddress = new Uri($"http://127.0.0.1:{silo.HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// Asset <paramref name="asset"/>'s bars: <paramref name="calm"/> bars of a random walk (steps under 0.3%), then
    /// <paramref name="trending"/> bars moving 1% a bar in runs of 25 up and 25 down; one minute apart from 2020-09-13.
    /// </summary>
    public static Bar[] Bars(int asset, int calm, int trending)
    {
        var random = new Random(500 + asset);
        var bars = new Bar[calm + trending];
        double price = 100 + asset;
        for (int i = 0; i < bars.Length; i++)
        {
            double open = price;
            price *= i < calm ? Math.Exp(0.006 * (random.NextDouble() - 0.5)) : ((i - calm) / 25 % 2 == 0 ? 1.01 : 0.99);
            bars[i] = new Bar
            {
                Timestamp = 1_600_000_000_000L + i * 60_000L, Open = open, Close = price,
                High = Math.Max(open, price) * 1.0005, Low = Math.Min(open, price) * 0.9995, Volume = 1000,
            };
        }
        return bars;
    }

    /// <summary>
    /// Registers the champion under alias <c>champion</c> (with <paramref name="autoPromote"/>) and lineage
    /// (<paramref name="parameters"/>: the booster's, as a lineage names them, or null for the defaults), and assigns
    /// <paramref name="assets"/> to the alias. Its inputs are <paramref name="features"/> (default <c>roc_1</c>), all
    /// ignored: it says 0.5 whatever they are.
    /// </summary>
    public async Task RegisterChampion(IEnumerable<string> assets, bool autoPromote, string? parameters = null, string[]? features = null)
    {
        features ??= ["roc_1"];
        byte[] model = HandModels.Stumps(features, new float[features.Length], [.. features.Select(_ => (0f, 0f))], out _);
        await Ok(_http.PutAsync($"/models/{Model}/versions/{Champion}?alias=champion", new ByteArrayContent(model)));
        string lineage = $$"""{"tool": "retraining-tests", "label": {"name": "up_1", "kind": "direction", "horizon": 1}, "features": [{{string.Join(", ", features.Select(f => $"\"{f}\""))}}], "parameters": {{parameters ?? "null"}}}""";
        await Ok(_http.PutAsync($"/models/{Model}/versions/{Champion}/lineage", new StringContent(lineage)));
        await Ok(_http.PutAsync($"/models/{Model}/aliases/champion", Json(new { version = Champion, autoPromote })));
        await silo.Client.AssignModelAsync(new AssignModelRequest { Assets = { assets }, Name = Model, Version = "@champion" });
    }

    /// <summary>The champion's reference profile from the archive's bars of <paramref name="assets"/> up to <paramref name="through"/>.</summary>
    public async Task ProfileChampion(IEnumerable<string> assets, long through) =>
        await Ok(_http.PostAsync($"/models/{Model}/versions/{Champion}/profile", Json(new
        {
            assets,
            to = DateTimeOffset.FromUnixTimeMilliseconds(through).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        })));

    /// <summary>Asks for a job by hand (POST /models/dir/retrain) on <paramref name="assets"/>; answers the job's id.</summary>
    public async Task<string> StartJob(IEnumerable<string> assets)
    {
        using HttpResponseMessage response = await _http.PostAsync($"/models/{Model}/retrain", Json(new { assets, reason = "retraining tests" }));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("job").GetProperty("id").GetString()!;
    }

    /// <summary>The model's jobs, newest first.</summary>
    public async Task<JsonElement[]> Jobs() =>
        [.. (await Get($"/models/{Model}/retrain")).GetProperty("jobs").EnumerateArray()];

    /// <summary>One job.</summary>
    public Task<JsonElement> Job(string id) => Get($"/models/{Model}/retrain/{id}");

    /// <summary>The model as GET /models/dir answers it: versions (with tags, lineage, hasProfile), aliases, shadows.</summary>
    public Task<JsonElement> Registry() => Get($"/models/{Model}");

    /// <summary>The pairs scored for <paramref name="challenger"/> beside the champion, over every asset.</summary>
    public async Task<long> Pairs(string challenger)
    {
        return (await Get($"/models/{Model}/scores")).GetProperty("pairs").EnumerateArray()
            .Where(p => p.GetProperty("challenger").GetString() == challenger)
            .Sum(p => p.GetProperty("pairs").GetInt64());
    }

    /// <summary>The model's audit log, oldest first.</summary>
    public async Task<JsonElement[]> Audit() =>
        [.. (await Get($"/models/{Model}/audit?limit=10000")).GetProperty("records").EnumerateArray()];

    private static StringContent Json(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    // A GET's JSON; a failure names the status and what the grid answered, which a bare status would not.
    private async Task<JsonElement> Get(string path)
    {
        using HttpResponseMessage response = await _http.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? JsonDocument.Parse(body).RootElement
            : throw new HttpRequestException($"GET {path}: {(int)response.StatusCode} {body}", null, response.StatusCode);
    }

    private static async Task Ok(Task<HttpResponseMessage> call)
    {
        using HttpResponseMessage response = await call;
        Assert.True(response.IsSuccessStatusCode, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public void Dispose() => _http.Dispose();
}
