using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using MarketIntel.Api.V1;
using MarketIntel.Server.Api;
using RetrainJobJson = MarketIntel.Abstractions.Models.RetrainJobJson;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// Retraining over the grid's HTTP/JSON API (docs/api.md, "Retraining"): each call sent to its path, the answer read
/// back by <see cref="RetrainJobJson"/> (the one JSON form of a job) and mapped to the gRPC service's message as the
/// server maps it for gRPC (<see cref="RetrainMapping"/>), so the command prints the same either way.
/// HTTP has no stream of a job: following one reads it every <see cref="PollInterval"/>, as the gRPC Watch does on the server.
/// </summary>
internal sealed class HttpRetrainClient(GridHttp http) : IRetrainClient
{
    /// <summary>How often <see cref="WatchAsync"/> reads the job.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    // Only what the request sets goes in the body: an empty field is "the served version's".
    public async Task<RetrainStartReply> StartAsync(StartRetrainRequest request)
    {
        var body = new JsonObject();
        if (request.Assets.Count > 0)
        {
            body["assets"] = new JsonArray([.. request.Assets.Select(a => JsonValue.Create(a))]);
        }
        if (request.Spec.Length > 0)
        {
            body["spec"] = request.Spec;
        }
        if (request.Label.Length > 0)
        {
            body["label"] = request.Label;
        }
        if (request.Force)
        {
            body["force"] = true;
        }
        if (request.Reason.Length > 0)
        {
            body["reason"] = request.Reason;
        }
        JsonElement answer = await http.Send(HttpMethod.Post, Path(request.Name), JsonContent.Create(body), alsoAnswer: HttpStatusCode.Conflict);
        return Read(a => RetrainMapping.ToMessage(RetrainJobJson.ReadStart(a)), answer);
    }

    public async Task<RetrainJobList> ListAsync(ListRetrainJobsRequest request) =>
        Read(a => RetrainMapping.ToMessage(RetrainJobJson.ReadList(a)), await http.Send(HttpMethod.Get, Path(request.Name) + (request.Limit > 0 ? "?limit=" + request.Limit.ToString(CultureInfo.InvariantCulture) : "")));

    public async Task<RetrainJob> GetAsync(RetrainJobRequest request) =>
        Read(ReadJob, await http.Send(HttpMethod.Get, Path(request.Name, request.Id)));

    public async Task<RetrainJob> CancelAsync(RetrainJobRequest request) =>
        Read(ReadJob, await http.Send(HttpMethod.Delete, Path(request.Name, request.Id)));

    public async IAsyncEnumerable<RetrainJob> WatchAsync(RetrainJobRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RetrainJob? last = null;
        while (true)
        {
            RetrainJob job = await GetAsync(request);
            if (!job.Equals(last))
            {
                yield return job;
                last = job;
            }
            if (RetrainClient.IsFinal(job.State))
            {
                yield break;
            }
            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    public void Dispose() => http.Dispose();

    private static string Path(string name, string? id = null) =>
        "/models/" + Uri.EscapeDataString(name) + "/retrain" + (id is null ? "" : "/" + Uri.EscapeDataString(id));

    private static RetrainJob ReadJob(JsonElement answer) => RetrainMapping.ToMessage(RetrainJobJson.ReadJob(answer));

    private T Read<T>(Func<JsonElement, T> read, JsonElement answer) => http.Read(() => read(answer));
}
