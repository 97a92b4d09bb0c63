using System.Text.Json;
using Grpc.Core;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Grains.Models;
using MarketIntel.Server.Application;
using MarketIntel.Server.Security;

namespace MarketIntel.Server.Api;

/// <summary>
/// A model name's live outcome scores over gRPC (<c>Scores.GetScores</c>) and HTTP (<c>GET /models/{name}/scores</c>,
/// <c>?asset=SYMBOL</c> for one asset): one mapping from the scores to the reply, written as JSON by <see cref="ScoresJson"/>.
/// </summary>
internal sealed class ModelScoresService(ModelScoresQuery query) : MarketIntel.Api.V1.Scores.ScoresBase
{
    [RequiresRole(ApiRole.Reader)]
    public override Task<ScoresReply> GetScores(GetScoresRequest request, ServerCallContext context) =>
        ModelScoresApi.Reply(query, request.Name, request.Asset.Length > 0 ? request.Asset : null);
}

/// <summary>The HTTP side of the scores surface, and the mapping both sides share.</summary>
internal static class ModelScoresApi
{
    public static void MapModelScoresHttpApi(this IEndpointRouteBuilder app)
    {
        var query = app.ServiceProvider.GetRequiredService<ModelScoresQuery>();
        app.MapGet("/models/{name}/scores", async (string name, string? asset, HttpContext http) =>
        {
            ScoresReply reply;
            try
            {
                reply = await Reply(query, name, asset);
            }
            catch (Exception e) when (Errors.AsGridError(e) is { } grid)
            {
                await HttpApi.WriteError(http, grid);
                return;
            }
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "application/json";
            await using (var json = new Utf8JsonWriter(http.Response.BodyWriter))
            {
                ScoresJson.Write(json, reply);
            }
            await http.Response.BodyWriter.FlushAsync(http.RequestAborted);
        }).WithMetadata(new RequiresRoleAttribute(ApiRole.Reader));
    }

    /// <summary>The reply for model <paramref name="name"/> over every asset, or over <paramref name="asset"/>; both checked here.</summary>
    public static async Task<ScoresReply> Reply(ModelScoresQuery query, string name, string? asset)
    {
        string model = Mapping.ModelName(name);
        string? symbol = asset is null ? null : Mapping.Asset(asset);
        var (scores, deployment, decisions) = await query.Get(model, symbol);
        var reply = new ScoresReply { Name = model, Asset = symbol ?? "" };
        foreach (OutcomeTally t in scores.Versions.OrderBy(t => t.Model.Version, StringComparer.Ordinal))
        {
            bool direction = t.Kind == LabelKind.Direction;
            reply.Versions.Add(new VersionScore
            {
                Version = t.Model.Version,
                Role = (deployment.RoleOf(t.Model.Version) ?? ModelRole.Served).ToString().ToLowerInvariant(),
                Label = new LabelDefinition(t.Kind, t.Horizon).Name,
                Outcomes = t.Outcomes,
                Hits = t.Hits,
                Accuracy = Mean(t.Hits, t.Outcomes),
                LogLoss = direction ? Mean(t.LogLossSum, t.Outcomes) : double.NaN,
                Brier = direction ? Mean(t.BrierSum, t.Outcomes) : double.NaN,
                SquaredError = direction ? double.NaN : Mean(t.SquaredErrorSum, t.Outcomes),
            });
        }
        foreach (PairTally p in scores.Pairs.OrderBy(p => (p.Champion.Version, p.Challenger.Version)))
        {
            reply.Pairs.Add(new PairScore
            {
                Champion = p.Champion.Version,
                Challenger = p.Challenger.Version,
                Pairs = p.Pairs,
                BothHit = p.BothHit,
                ChampionOnlyHits = p.ChampionOnlyHits,
                ChallengerOnlyHits = p.ChallengerOnlyHits,
                MeanLossDifference = Mean(p.DifferenceSum, p.Pairs),
            });
        }
        foreach (PromotionDecision d in decisions)
        {
            var verdict = new GateVerdict
            {
                Alias = d.Alias,
                Champion = d.Champion,
                Challenger = d.Challenger,
                Verdict = PromotionGate.Verdict(d),
                WouldPromote = d.Promoted,
                Reason = d.Reason,
                Pairs = d.Pairs,
                MinPairs = query.Gate.MinPairs,
                Alpha = query.Gate.Alpha,
            };
            verdict.Statistics.Add(d.Statistics.ToDictionary());
            reply.Gate.Add(verdict);
        }
        return reply;
    }

    private static double Mean(double sum, long count) => count == 0 ? double.NaN : sum / count;
}
