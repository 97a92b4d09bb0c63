using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using MarketIntel.Api.V1;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// Gated promotion end to end, over real HTTP and gRPC: a champion that knows nothing and a challenger in shadow that
/// reads the momentum of a series built to have it; the gate refuses while the pairs are too few, promotes the
/// challenger once they suffice (the alias moves, the decision is audited with its statistics), and refuses a version
/// that was never scored beside the champion. Before each promotion the scores' live gate answer says what the audit
/// then records, statistic for statistic.
/// </summary>
public sealed class PromoteTests : CliTestBase, IAsyncLifetime
{
    private const string Name = "dir";
    private const int Bars = 900;
    private InProcessGrid? _grid;

    public async Task InitializeAsync() => _grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
    {
        ["Grid:Scoring:FlushInterval"] = "00:00:00.1",
        ["Grid:Promotion:MinPairs"] = "400",
    });

    public async Task DisposeAsync()
    {
        if (_grid is not null)
        {
            await _grid.DisposeAsync();
        }
    }

    // Next-bar direction from the last bar's change: p = 0.5 whatever it was (the champion), or 0.9 after a rise and
    // 0.1 after a fall (the challenger).
    private static byte[] Model(float confidence) =>
        HandModels.Stumps(["roc_1"], [0f], [(-confidence, confidence)], out _);

    // Runs of 25 rising bars, then 25 falling ones: the next bar mostly moves as the last one did.
    private static IEnumerable<Bar> Momentum(int from, int count)
    {
        for (int i = from; i < from + count; i++)
        {
            double close = 100;
            for (int j = 1; j <= i; j++)
            {
                close *= (j / 25) % 2 == 0 ? 1.01 : 0.99;
            }
            yield return new Bar { Timestamp = 1_600_000_000_000L + i * 60_000L, Open = close, High = close * 1.001, Low = close * 0.999, Close = close, Volume = 1000 };
        }
    }

    private async Task<JsonElement> Promote(HttpClient http, string challenger)
    {
        using var response = await http.PostAsJsonAsync(_grid!.Http($"/models/{Name}/promote"), new { challenger });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task The_gate_refuses_too_few_pairs_promotes_a_clearly_better_shadow_and_refuses_a_version_never_paired()
    {
        using var http = new HttpClient();
        const string Lineage = "{\"label\": {\"kind\": \"direction\", \"horizon\": 1}}";
        foreach (var (version, confidence, alias) in new[] { ("flat", 0f, "?alias=champion"), ("momentum", 2.2f, ""), ("unpaired", 1f, "") })
        {
            Assert.True((await http.PutAsync(_grid!.Http($"/models/{Name}/versions/{version}{alias}"), new ByteArrayContent(Model(confidence)))).IsSuccessStatusCode);
            Assert.True((await http.PutAsync(_grid.Http($"/models/{Name}/versions/{version}/lineage"), new StringContent(Lineage))).IsSuccessStatusCode);
        }
        Assert.True((await http.PutAsync(_grid!.Http($"/models/{Name}/shadows/momentum"), null)).IsSuccessStatusCode);
        using var channel = _grid.Channel();
        var grid = new Grid.GridClient(channel);
        await grid.AssignModelAsync(new AssignModelRequest { Assets = { "MOM" }, Name = Name, Version = "@champion" });

        async Task Ingest(int from, int count)
        {
            using var call = grid.IngestBars();
            await call.RequestStream.WriteAsync(new IngestBarsRequest { Asset = "MOM", Bars = { Momentum(from, count) } });
            await call.RequestStream.CompleteAsync();
            Assert.Equal(count, (await call).Accepted);
        }
        async Task<long> PairsScored()
        {
            using var scores = JsonDocument.Parse(await http.GetStringAsync(_grid.Http($"/models/{Name}/scores")));
            return scores.RootElement.GetProperty("pairs").EnumerateArray().Select(p => p.GetProperty("pairs").GetInt64()).DefaultIfEmpty(0).Sum();
        }
        async Task WaitForPairs(long pairs)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await PairsScored() < pairs && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }

        // What the scores say the gate would decide now, before a promotion is tried on the same pairs.
        async Task<JsonElement> LiveGate()
        {
            using var scores = JsonDocument.Parse(await http.GetStringAsync(_grid.Http($"/models/{Name}/scores")));
            return scores.RootElement.GetProperty("gate").EnumerateArray().Single(g => g.GetProperty("challenger").GetString() == "momentum").Clone();
        }
        async Task<JsonElement> LastAuditedDecision()
        {
            using var audit = JsonDocument.Parse(await http.GetStringAsync(_grid.Http($"/models/{Name}/audit")));
            return audit.RootElement.GetProperty("records").EnumerateArray()
                .Last(r => r.GetProperty("action").GetString() is "promoted" or "rejected").GetProperty("detail").Clone();
        }
        // Waits until every outcome of the bars sent is in the totals: at least the pairs expected, and no more coming.
        async Task WaitForSteadyPairs(long pairs)
        {
            await WaitForPairs(pairs);
            long seen = await PairsScored();
            for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline;)
            {
                await Task.Delay(1000);
                long now = await PairsScored();
                if (now == seen)
                {
                    return;
                }
                seen = now;
            }
        }

        await Ingest(0, 200);
        await WaitForSteadyPairs(197);
        JsonElement earlyLive = await LiveGate();
        JsonElement early = await Promote(http, "momentum");
        Assert.False(early.GetProperty("promoted").GetBoolean());
        Assert.Contains("paired outcomes, 400 ne", early.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("flat", early.GetProperty("champion").GetString());
        // Too few pairs, said with the count; and the very decision the promotion then recorded.
        Assert.Equal($"too few pairs: {early.GetProperty("pairs").GetInt64()} of 400", earlyLive.GetProperty("verdict").GetString());
        AssertSameDecision(earlyLive, await LastAuditedDecision());

        await Ingest(200, Bars - 200);
        // Every bar but the first few (roc_1 undefined on the first) and the last (its outcome is yet to come) is a pair.
        await WaitForSteadyPairs(Bars - 3);
        JsonElement live = await LiveGate();
        JsonElement decision = await Promote(http, "momentum");
        Assert.True(decision.GetProperty("promoted").GetBoolean(), decision.ToString());
        Assert.Equal("would promote", live.GetProperty("verdict").GetString());
        AssertSameDecision(live, await LastAuditedDecision());
        JsonElement statistics = decision.GetProperty("statistics");
        // The champion (p = 0.5) calls every bar a fall, the challenger calls the last bar's move again: on this series
        // the challenger alone is right on every rise that follows a rise, the champion alone on every fall after a rise.
        Assert.True(statistics.GetProperty("c").GetDouble() > statistics.GetProperty("b").GetDouble() * 5, statistics.ToString());
        Assert.True(statistics.GetProperty("dmP").GetDouble() < 1e-6, statistics.ToString());
        Assert.True(statistics.GetProperty("improvement").GetDouble() > 0.3, statistics.ToString());

        // The alias moved, the challenger stopped shadowing, and the asset now predicts with it.
        using (var model = JsonDocument.Parse(await http.GetStringAsync(_grid.Http($"/models/{Name}"))))
        {
            Assert.Contains("\"momentum\"", model.RootElement.GetProperty("aliases").GetProperty("champion").ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("momentum", model.RootElement.GetProperty("shadows").ToString(), StringComparison.Ordinal);
        }
        Assert.Equal("momentum", (await grid.PredictAsync(new PredictRequest { Asset = "MOM" })).Version);
        using (var audit = JsonDocument.Parse(await http.GetStringAsync(_grid.Http($"/models/{Name}/audit"))))
        {
            string text = audit.RootElement.ToString();
            Assert.Contains("\"rejected\"", text, StringComparison.Ordinal);
            Assert.Contains("\"promoted\"", text, StringComparison.Ordinal);
        }

        // Through the command, over gRPC and over HTTP alike: a version never scored beside the new champion is refused,
        // naming why, with the same decision and statistics.
        foreach (var (target, status) in new[] { (_grid.GrpcTarget, "NotFound"), (_grid.Http(""), "404") })
        {
            var (code, stdout, stderr) = Run("models", "promote", Name, "--challenger", "unpaired", "--target", target);
            Assert.True(code == 0, stderr);
            Assert.StartsWith($"{Name}: unpaired not promoted to champion (was momentum) on 0 paired outcomes", stdout, StringComparison.Ordinal);
            Assert.Contains("no scored outcome", stdout, StringComparison.Ordinal);
            var missing = Run("models", "promote", Name, "--challenger", "nope", "--target", target);
            Assert.Equal(2, missing.Code);
            Assert.StartsWith($"marketintel models: {target}: {status}: ", missing.Err, StringComparison.Ordinal);
            Assert.Single(missing.Err.Trim().Split('\n'));
        }
        var overGrpc = Run("models", "promote", Name, "--challenger", "flat", "--target", _grid.GrpcTarget, "--json");
        var overHttp = Run("models", "promote", Name, "--challenger", "flat", "--target", _grid.Http(""), "--json");
        Assert.True(overGrpc.Code == 0 && overHttp.Code == 0, overGrpc.Err + overHttp.Err);
        Assert.Equal(JsonWithoutTime(overGrpc.Out), JsonWithoutTime(overHttp.Out));
        Assert.Contains("\"challenger\": \"flat\"", overHttp.Out, StringComparison.Ordinal);
        Assert.Contains("\"statistics\": { \"minPairs\": 400, \"pairs\": 0 }", overHttp.Out, StringComparison.Ordinal);
    }

    // The gate's live answer in the scores and the decision a promotion recorded in the audit trail: one evaluation, so
    // the same champion, verdict, reason, pairs and every statistic to the last bit (null where neither computed one).
    private static void AssertSameDecision(JsonElement live, JsonElement audited)
    {
        Assert.Equal((live.GetProperty("alias").GetString(), live.GetProperty("champion").GetString(), live.GetProperty("wouldPromote").GetBoolean(),
            live.GetProperty("reason").GetString(), live.GetProperty("pairs").GetInt64()),
            (audited.GetProperty("alias").GetString(), audited.GetProperty("champion").GetString(), audited.GetProperty("promoted").GetBoolean(),
            audited.GetProperty("reason").GetString(), audited.GetProperty("pairs").GetInt64()));
        static SortedDictionary<string, double?> Statistics(JsonElement decision) => new(decision.GetProperty("statistics").EnumerateObject()
            .ToDictionary(s => s.Name, s => s.Value.ValueKind == JsonValueKind.Number ? s.Value.GetDouble() : (double?)null), StringComparer.Ordinal);
        SortedDictionary<string, double?> statistics = Statistics(live);
        Assert.Equal(Statistics(audited), statistics);
        Assert.Contains("mcnemarP", statistics.Keys);
        Assert.Contains("dmP", statistics.Keys);
    }

    // The decision's JSON without decidedAt (the moment each call ran).
    private static string JsonWithoutTime(string json)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        Assert.True(node.Remove("decidedAt"), json);
        return node.ToJsonString();
    }
}
