using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// A model name's scores through every surface of a real host: <c>GET /models/{name}/scores</c> answers the issue's JSON
/// with means of the stored tallies and each version's role now, and what the promotion gate would decide on the shadow
/// (too few pairs here, with the count), <c>Scores.GetScores</c> the same over gRPC, and <c>marketintel models scores</c>
/// prints them from either.
/// </summary>
public sealed class ModelScoresTests : CliTestBase, IAsyncLifetime
{
    private const string Name = "scored";
    private InProcessGrid _grid = null!;

    public async Task InitializeAsync()
    {
        _grid = await InProcessGrid.StartAsync();
        byte[] model = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));
        var grains = _grid.App.Services.GetRequiredService<IGrainFactory>();
        var registry = grains.GetGrain<IModelRegistryGrain>(0);
        foreach (string version in new[] { "v1", "v2", "r1" })
        {
            await registry.Register(Name, version, model);
        }
        await registry.SetAlias(Name, "champion", "v1", "test");
        await registry.SetShadow(new ModelRef(Name, "v2"), true, "test");
        // What asset grains write as they score (their scoring is tested in MarketIntel.Grains.Tests): two assets' tallies.
        var store = _grid.App.Services.GetRequiredService<IScoreStore>();
        await store.Save("AAA", new ModelScores([Direction("v1", 30, 18, 19.5, 7.2), Direction("v2", 30, 12, 21.0, 7.8), Return("r1", 10, 6, 0.004)], [Pair(30, 14, 4, 2, -1.5)]));
        await store.Save("BBB", new ModelScores([Direction("v1", 10, 5, 6.5, 2.3), Direction("v2", 10, 7, 6.0, 2.2)], [Pair(10, 4, 1, 3, 0.5)]));
    }

    public async Task DisposeAsync() => await _grid.DisposeAsync();

    private static OutcomeTally Direction(string version, long outcomes, long hits, double logLoss, double brier) => new()
    {
        Model = new ModelRef(Name, version), Kind = LabelKind.Direction, Horizon = 3, Outcomes = outcomes, Hits = hits, LogLossSum = logLoss, BrierSum = brier,
    };

    private static OutcomeTally Return(string version, long outcomes, long hits, double squaredError) => new()
    {
        Model = new ModelRef(Name, version), Kind = LabelKind.LogReturn, Horizon = 2, Outcomes = outcomes, Hits = hits, SquaredErrorSum = squaredError,
    };

    private static PairTally Pair(long pairs, long both, long championOnly, long challengerOnly, double differences)
    {
        PairTally pair = PairTally.Empty(new ModelRef(Name, "v1"), new ModelRef(Name, "v2"), LabelKind.Direction, 3);
        (pair.Pairs, pair.BothHit, pair.ChampionOnlyHits, pair.ChallengerOnlyHits, pair.DifferenceSum) = (pairs, both, championOnly, challengerOnly, differences);
        return pair;
    }

    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);

    // The means over both assets, written out: v1 40 outcomes, 23 hits, log loss 26, Brier 9.5; v2 40, 19, 27, 10.
    private static readonly string Expected =
        "{\"name\":\"scored\",\"versions\":[" +
        "{\"version\":\"r1\",\"role\":\"served\",\"label\":\"logret_2\",\"outcomes\":10,\"hits\":6,\"accuracy\":0.6,\"logLoss\":null,\"brier\":null,\"squaredError\":" + Number(0.004 / 10) + "}," +
        "{\"version\":\"v1\",\"role\":\"served\",\"label\":\"up_3\",\"outcomes\":40,\"hits\":23,\"accuracy\":" + Number(23 / 40.0) + ",\"logLoss\":" + Number(26 / 40.0) + ",\"brier\":" + Number(9.5 / 40) + "}," +
        "{\"version\":\"v2\",\"role\":\"shadow\",\"label\":\"up_3\",\"outcomes\":40,\"hits\":19,\"accuracy\":" + Number(19 / 40.0) + ",\"logLoss\":" + Number(27 / 40.0) + ",\"brier\":" + Number(10 / 40.0) + "}]," +
        "\"pairs\":[{\"champion\":\"v1\",\"challenger\":\"v2\",\"pairs\":40,\"bothHit\":18,\"championOnlyHits\":5,\"challengerOnlyHits\":5,\"meanLossDifference\":" + Number(-1.0 / 40) + "}]}";

    // The answer without its "gate" array, and that array: the gate's statistics are checked against SciPy in
    // PromotionGateTests and against the recorded decision in PromoteTests; here what the scores add to them.
    private static (string Scores, JsonElement Gate) WithoutGate(string json)
    {
        JsonObject answer = JsonNode.Parse(json)!.AsObject();
        JsonNode gate = answer["gate"] ?? throw new Xunit.Sdk.XunitException($"no gate in {json}");
        string gateJson = gate.ToJsonString();
        Assert.True(answer.Remove("gate"));
        return (answer.ToJsonString(), JsonDocument.Parse(gateJson).RootElement.Clone());
    }

    // Champion v1 (alias champion) against its shadow v2 on 40 pairs, under the default 500 and alpha 0.05: too few,
    // said with the count; b = c = 5 gives McNemar's exact p = 1.
    private static void AssertTooFewPairs(JsonElement gate)
    {
        JsonElement g = Assert.Single(gate.EnumerateArray());
        Assert.Equal(("champion", "v1", "v2", "too few pairs: 40 of 500", false), (g.GetProperty("alias").GetString(), g.GetProperty("champion").GetString(),
            g.GetProperty("challenger").GetString(), g.GetProperty("verdict").GetString(), g.GetProperty("wouldPromote").GetBoolean()));
        Assert.Equal((40L, 500L, 0.05), (g.GetProperty("pairs").GetInt64(), g.GetProperty("minPairs").GetInt64(), g.GetProperty("alpha").GetDouble()));
        Assert.StartsWith("refused: only 40 paired outcomes, 500 needed", g.GetProperty("reason").GetString(), StringComparison.Ordinal);
        JsonElement statistics = g.GetProperty("statistics");
        Assert.Equal((40.0, 5.0, 5.0, 1.0), (statistics.GetProperty("pairs").GetDouble(), statistics.GetProperty("b").GetDouble(),
            statistics.GetProperty("c").GetDouble(), statistics.GetProperty("mcnemarP").GetDouble()));
    }

    [Fact]
    public async Task Http_answers_the_issues_json_with_the_means_over_every_asset_and_each_versions_role()
    {
        using var http = new HttpClient();
        using HttpResponseMessage response = await http.GetAsync(new Uri(_grid.Http($"/models/{Name}/scores")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var (scores, gate) = WithoutGate(await response.Content.ReadAsStringAsync());
        Assert.Equal(Expected, scores);
        AssertTooFewPairs(gate);

        // The index names the path, as it names every path docs/api.md publishes.
        Assert.Contains("\"GET /models/{name}/scores\"", await http.GetStringAsync(new Uri(_grid.Http("/"))), StringComparison.Ordinal);

        using HttpResponseMessage bad = await http.GetAsync(new Uri(_grid.Http("/models/bad%20name/scores")));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("name: 'bad name' has ' '", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grpc_answers_the_same_scores_and_one_assets_scores_come_from_its_grain()
    {
        using var channel = _grid.Channel();
        var client = new Scores.ScoresClient(channel);
        ScoresReply reply = await client.GetScoresAsync(new GetScoresRequest { Name = Name });
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            ScoresJson.Write(json, reply);
        }
        var (scores, gate) = WithoutGate(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        Assert.Equal(Expected, scores);
        AssertTooFewPairs(gate);

        // An asset that scored nothing (no labelled model) has no scores, and says which asset it is.
        ScoresReply one = await client.GetScoresAsync(new GetScoresRequest { Name = Name, Asset = "NOSCORES" });
        // The gate judges the cluster's totals only, never one asset's outcomes.
        Assert.Equal(("NOSCORES", 0, 0, 0), (one.Asset, one.Versions.Count, one.Pairs.Count, one.Gate.Count));
        Assert.Empty((await client.GetScoresAsync(new GetScoresRequest { Name = Name, Asset = "AAA" })).Gate);
        var e = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => client.GetScoresAsync(new GetScoresRequest { Name = "" }).ResponseAsync);
        Assert.Equal((Grpc.Core.StatusCode.InvalidArgument, "name: a model name is required"), (e.StatusCode, e.Status.Detail));
    }

    [Fact]
    public async Task The_command_prints_the_scores_from_either_api_as_json_or_as_a_table()
    {
        string http = _grid.Http("");
        var (code, viaHttp, err) = await Task.Run(() => Run("models", "scores", "--target", http, "--name", Name, "--json"));
        Assert.True(code == 0, err);
        var (grpcCode, viaGrpc, grpcErr) = await Task.Run(() => Run("models", "scores", "--target", _grid.GrpcTarget, "--name", Name, "--json"));
        Assert.True(grpcCode == 0, grpcErr);
        var (scores, gate) = WithoutGate(viaHttp);
        Assert.Equal(Expected, scores);
        AssertTooFewPairs(gate);
        Assert.Equal(viaHttp, viaGrpc);

        var (tableCode, table, _) = await Task.Run(() => Run("models", "scores", "--target", _grid.GrpcTarget, "--name", Name));
        Assert.Equal(0, tableCode);
        string[] lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("model scored, all assets", lines[0]);
        Assert.Matches(@"^version\s+role\s+label\s+outcomes\s+hits\s+accuracy\s+logLoss\s+brier\s+squaredError$", lines[1]);
        Assert.Matches(@"^v2\s+shadow\s+up_3\s+40\s+19\s+0\.4750\s+0\.6750\s+0\.2500\s+-$", lines[4]);
        Assert.Equal("v1 vs v2: 40 paired outcomes, both right 18, only v1 5, only v2 5, mean loss difference -0.0250 (positive: v2 did better)", lines[5]);
        Assert.StartsWith("gate, alias champion: v1 vs v2: too few pairs: 40 of 500; McNemar exact p 1.0000 (b 5, c 5), ", lines[6], StringComparison.Ordinal);
        Assert.EndsWith(", alpha 0.0500, min pairs 500", lines[6], StringComparison.Ordinal);
        Assert.StartsWith("  refused: only 40 paired outcomes, 500 needed", lines[7], StringComparison.Ordinal);

        var (badCode, _, badErr) = Run("models", "scores", "--target", http, "--name", "x", "--asset", "A B");
        Assert.Equal(2, badCode);
        Assert.Contains("--asset: asset symbol 'A B' has white space at position 2", badErr, StringComparison.Ordinal);
        var (unknownCode, _, unknownErr) = Run("models", "frobnicate");
        Assert.Equal(2, unknownCode);
        Assert.Contains("models: unknown subcommand 'frobnicate'", unknownErr, StringComparison.Ordinal);
    }
}
