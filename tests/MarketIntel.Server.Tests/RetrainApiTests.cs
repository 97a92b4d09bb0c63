using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using MarketIntel.Api.V1;
using MarketIntel.Tests;
using Models = MarketIntel.Abstractions.Models;
using RetrainJobJson = MarketIntel.Abstractions.Models.RetrainJobJson;

namespace MarketIntel.Server.Tests;

/// <summary>A grid of one serving silo and no worker: a retraining job is accepted and waits, saying why, until it is cancelled.</summary>
public sealed class ServingOnlyGrid : IAsyncLifetime
{
    internal InProcessGrid Grid { get; private set; } = null!;

    public HttpClient Http { get; } = new();

    public GrpcChannel Channel { get; private set; } = null!;

    public global::MarketIntel.Api.V1.Retrain.RetrainClient Retrain { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Grid = await InProcessGrid.StartAsync(new Dictionary<string, string?> { ["MarketIntel:Role"] = "serving" });
        Http.BaseAddress = new Uri(Grid.Http(""));
        Channel = Grid.Channel();
        Retrain = new global::MarketIntel.Api.V1.Retrain.RetrainClient(Channel);
    }

    /// <summary>Registers a version of a new model name and answers the name.</summary>
    public async Task<string> Model(string prefix)
    {
        string name = $"{prefix}-{Guid.NewGuid():N}"[..24];
        using var response = await Http.PutAsync($"/models/{name}/versions/v1?alias=champion", new ByteArrayContent(File.ReadAllBytes(ServerFixture.PushedModel)));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return name;
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        await Grid.DisposeAsync();
    }
}

/// <summary>
/// Retraining jobs over real gRPC and real HTTP on an in-process grid whose only silo serves: each verb (start, list,
/// get, cancel, and gRPC's watch), the debounce's answer (409 over HTTP, with the job that holds the request back), and
/// the errors: an unknown model, an unknown job, a bad body naming the field at fault.
/// </summary>
/// <remarks>
/// In the server collection, so its grid never runs beside the collection's tests: hosts in one process share
/// prometheus-net's registry, and this grid's gauges (active assets, bar ages) overwrote those MetricsTests read.
/// </remarks>
[Collection("server")]
public sealed class RetrainApiTests(ServingOnlyGrid grid) : IClassFixture<ServingOnlyGrid>
{
    private static async Task<JsonElement> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private Task<HttpResponseMessage> Post(string path, string? json) =>
        grid.Http.PostAsync(path, json is null ? null : new StringContent(json, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task Over_http_a_job_starts_waits_for_a_worker_is_listed_read_debounced_and_cancelled()
    {
        string name = await grid.Model("http");
        JsonElement start = await Json(await Post($"/models/{name}/retrain", "{\"assets\": [\"MSFT\", \"EURUSD\"], \"label\": \"up_3\", \"reason\": \"new quarter\"}"), HttpStatusCode.Accepted);
        Assert.True(start.GetProperty("started").GetBoolean());
        JsonElement job = start.GetProperty("job");
        string id = job.GetProperty("id").GetString()!;
        Assert.Equal(name, job.GetProperty("name").GetString());
        Assert.Equal("manual", job.GetProperty("trigger").GetString());
        Assert.Equal("new quarter", job.GetProperty("reason").GetString());
        Assert.Equal("local", job.GetProperty("client").GetString());
        Assert.Equal(["MSFT", "EURUSD"], job.GetProperty("assets").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("up_3", job.GetProperty("label").GetString());
        Assert.Equal(JsonValueKind.Null, job.GetProperty("spec").ValueKind);
        Assert.Equal("waiting", job.GetProperty("state").GetString());
        Assert.True(DateTimeOffset.TryParse(job.GetProperty("createdAt").GetString(), out _));
        Assert.Equal(JsonValueKind.Null, job.GetProperty("finishedAt").ValueKind);

        // No worker silo: the job waits, and its record says so.
        JsonElement read = await Json(await grid.Http.GetAsync($"/models/{name}/retrain/{id}"), HttpStatusCode.OK);
        Assert.Equal("waiting", read.GetProperty("state").GetString());
        Assert.Contains("no worker silo", read.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // One active job per model: the second request is held back with the active job, forced or not.
        JsonElement held = await Json(await Post($"/models/{name}/retrain", "{\"force\": true}"), HttpStatusCode.Conflict);
        Assert.False(held.GetProperty("started").GetBoolean());
        Assert.Equal(id, held.GetProperty("job").GetProperty("id").GetString());
        Assert.Contains("one job at a time", held.GetProperty("reason").GetString(), StringComparison.Ordinal);

        JsonElement cancelled = await Json(await grid.Http.DeleteAsync($"/models/{name}/retrain/{id}"), HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("state").GetString());
        Assert.Contains("cancelled by local", cancelled.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.String, cancelled.GetProperty("finishedAt").ValueKind);

        // The minimum interval since the last job's start holds back a request without force, not one with it.
        JsonElement early = await Json(await Post($"/models/{name}/retrain", null), HttpStatusCode.Conflict);
        Assert.Contains("minimum interval", early.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(id, early.GetProperty("job").GetProperty("id").GetString());
        JsonElement forced = await Json(await Post($"/models/{name}/retrain", "{\"force\": true}"), HttpStatusCode.Accepted);
        string second = forced.GetProperty("job").GetProperty("id").GetString()!;
        Assert.True(forced.GetProperty("job").GetProperty("force").GetBoolean());
        Assert.Equal("by hand", forced.GetProperty("job").GetProperty("reason").GetString());

        JsonElement list = await Json(await grid.Http.GetAsync($"/models/{name}/retrain"), HttpStatusCode.OK);
        Assert.Equal([second, id], list.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()));
        JsonElement one = await Json(await grid.Http.GetAsync($"/models/{name}/retrain?limit=1"), HttpStatusCode.OK);
        Assert.Equal([second], one.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString()));
        // Cancelling a final job changes nothing.
        Assert.Equal("cancelled", (await Json(await grid.Http.DeleteAsync($"/models/{name}/retrain/{id}"), HttpStatusCode.OK)).GetProperty("state").GetString());
        await Json(await grid.Http.DeleteAsync($"/models/{name}/retrain/{second}"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Over_grpc_a_job_starts_is_listed_read_watched_to_its_end_debounced_and_cancelled()
    {
        string name = await grid.Model("grpc");
        RetrainStartReply start = await grid.Retrain.StartAsync(new StartRetrainRequest { Name = name, Spec = "rsi_14,roc_5", Reason = "drifting" });
        Assert.True(start.Started, start.Reason);
        RetrainJob job = start.Job;
        Assert.Equal(("manual", "drifting", "rsi_14,roc_5", "waiting"), (job.Trigger, job.Reason, job.Spec, job.State));
        Assert.Empty(job.Assets);

        RetrainStartReply held = await grid.Retrain.StartAsync(new StartRetrainRequest { Name = name });
        Assert.False(held.Started);
        Assert.Equal(job.Id, held.Job.Id);

        // Watch answers the record at once, then every change until the job is final.
        using var watch = grid.Retrain.Watch(new RetrainJobRequest { Name = name, Id = job.Id });
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal("waiting", watch.ResponseStream.Current.State);
        RetrainJob cancelled = await grid.Retrain.CancelAsync(new RetrainJobRequest { Name = name, Id = job.Id });
        Assert.Equal("cancelled", cancelled.State);
        var seen = new List<RetrainJob>();
        while (await watch.ResponseStream.MoveNext())
        {
            seen.Add(watch.ResponseStream.Current);
        }
        Assert.Equal("cancelled", seen[^1].State);
        Assert.NotEqual(0, seen[^1].FinishedAt);

        Assert.Equal(cancelled, await grid.Retrain.GetAsync(new RetrainJobRequest { Name = name, Id = job.Id }));
        RetrainJobList list = await grid.Retrain.ListAsync(new ListRetrainJobsRequest { Name = name });
        Assert.Equal([job.Id], list.Jobs.Select(j => j.Id));
        // A final job's watch is its record, once.
        using var again = grid.Retrain.Watch(new RetrainJobRequest { Name = name, Id = job.Id });
        Assert.True(await again.ResponseStream.MoveNext());
        Assert.Equal("cancelled", again.ResponseStream.Current.State);
        Assert.False(await again.ResponseStream.MoveNext());
    }

    [Fact]
    public async Task Over_http_an_unknown_model_or_job_is_404_naming_it_and_a_bad_body_is_400_naming_the_field()
    {
        string name = await grid.Model("bad");
        JsonElement unknown = await Json(await Post("/models/no-such-model/retrain", null), HttpStatusCode.NotFound);
        Assert.Contains("no-such-model", unknown.GetProperty("error").GetString(), StringComparison.Ordinal);
        JsonElement noJob = await Json(await grid.Http.GetAsync($"/models/{name}/retrain/0123456789abcdef"), HttpStatusCode.NotFound);
        Assert.Contains("0123456789abcdef", noJob.GetProperty("error").GetString(), StringComparison.Ordinal);
        await Json(await grid.Http.DeleteAsync($"/models/{name}/retrain/0123456789abcdef"), HttpStatusCode.NotFound);

        foreach (var (body, message) in new[]
        {
            ("{\"assets\": \"MSFT\"}", "body: 'assets' must be an array of asset symbols"),
            ("{\"assets\": [\"MSFT\", \"A B\"]}", "body: assets[1]: "),
            ("{\"assets\": [\"MSFT\", \"MSFT\"]}", "body: assets: 'MSFT' is named twice"),
            ("{\"force\": \"yes\"}", "body: 'force' must be true or false"),
            ("{\"label\": 3}", "body: 'label' must be a string"),
            ("{\"label\": \"down_3\"}", "label 'down_3'"),
            ("{\"spec\": \"sma_x\"}", "spec: "),
            ("{\"reason\": \"" + new string('x', 501) + "\"}", "body: reason: 501 characters; at most 500"),
            ("{\"horizon\": 3}", "body: unknown field 'horizon'"),
            ("[1]", "body: a JSON object is required"),
            ("{not json", "body: not JSON"),
        })
        {
            JsonElement error = await Json(await Post($"/models/{name}/retrain", body), HttpStatusCode.BadRequest);
            Assert.Contains(message, error.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Equal("INVALID_ARGUMENT", error.GetProperty("code").GetString());
        }
        JsonElement limit = await Json(await grid.Http.GetAsync($"/models/{name}/retrain?limit=0"), HttpStatusCode.BadRequest);
        Assert.Contains("limit", limit.GetProperty("error").GetString(), StringComparison.Ordinal);
        // Nothing was started by any of them.
        Assert.Empty((await Json(await grid.Http.GetAsync($"/models/{name}/retrain"), HttpStatusCode.OK)).GetProperty("jobs").EnumerateArray());
    }

    [Fact]
    public async Task Over_grpc_an_unknown_model_or_job_is_not_found_and_a_bad_field_is_invalid_argument_naming_it()
    {
        string name = await grid.Model("badgrpc");
        var unknown = await Assert.ThrowsAsync<RpcException>(() => grid.Retrain.StartAsync(new StartRetrainRequest { Name = "no-such-model" }).ResponseAsync);
        Assert.Equal((StatusCode.NotFound, true), (unknown.StatusCode, unknown.Status.Detail.Contains("no-such-model", StringComparison.Ordinal)));
        var noJob = await Assert.ThrowsAsync<RpcException>(() => grid.Retrain.GetAsync(new RetrainJobRequest { Name = name, Id = "0123456789abcdef" }).ResponseAsync);
        Assert.Equal((StatusCode.NotFound, true), (noJob.StatusCode, noJob.Status.Detail.Contains("0123456789abcdef", StringComparison.Ordinal)));
        using var watch = grid.Retrain.Watch(new RetrainJobRequest { Name = name, Id = "0123456789abcdef" });
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext())).StatusCode);

        var badAsset = await Assert.ThrowsAsync<RpcException>(() => grid.Retrain.StartAsync(new StartRetrainRequest { Name = name, Assets = { "MSFT", "A B" } }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badAsset.StatusCode);
        Assert.StartsWith("assets[1]: ", badAsset.Status.Detail, StringComparison.Ordinal);
        var badId = await Assert.ThrowsAsync<RpcException>(() => grid.Retrain.CancelAsync(new RetrainJobRequest { Name = name, Id = "../x" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badId.StatusCode);
        Assert.StartsWith("id: ", badId.Status.Detail, StringComparison.Ordinal);
        Assert.Empty((await grid.Retrain.ListAsync(new ListRetrainJobsRequest { Name = name })).Jobs);
    }
}

/// <summary>
/// The one JSON form of a job (<see cref="RetrainJobJson"/>): what HTTP answers, the job store keeps and the job events
/// carry. It reads back as the record it was, shows what the gRPC message shows, still reads records stored in the form
/// before it, and names the field at fault in one that is not a job.
/// </summary>
public sealed class RetrainJsonTests
{
    private static readonly Models.RetrainJob Job = new("0123456789abcdef0123456789abcdef",
        new Models.RetrainRequest("direction", Models.RetrainTrigger.ScoreDecay, "accuracy 0.48 < 0.52", "auto") { Assets = ["MSFT", "EURUSD"], TriggerAssets = ["MSFT"], Label = "up_5" },
        Models.RetrainJobState.Registered, "registered v2",
        new Models.RetrainProgress(5000, 4900, 4, 4, 100, 100, new Dictionary<string, double> { ["auc"] = 0.61, ["logLoss"] = double.NaN }),
        "v1", "v2", 2, "S127.0.0.1:11111:1", 1_700_000_000_000, 1_700_000_100_000, 1_700_000_200_000, 1_700_000_300_000);

    [Fact]
    public void A_job_reads_back_as_it_was_and_shows_what_the_grpc_message_shows()
    {
        string text = RetrainJobJson.Write(Job);
        JsonElement written = JsonDocument.Parse(text).RootElement;
        Assert.Equal(("scoreDecay", "registered", "direction"), (written.GetProperty("trigger").GetString(), written.GetProperty("state").GetString(), written.GetProperty("name").GetString()));
        // JSON has no NaN: a score that could not be computed is null, read back as NaN.
        Assert.Equal(JsonValueKind.Null, written.GetProperty("progress").GetProperty("validation").GetProperty("logLoss").ValueKind);
        Assert.Equal(JsonValueKind.Null, written.GetProperty("spec").ValueKind);
        Assert.Equal("2023-11-14T22:13:20.000Z", written.GetProperty("through").GetString());
        Assert.Equal(["MSFT"], written.GetProperty("triggerAssets").EnumerateArray().Select(a => a.GetString()));

        Models.RetrainJob read = RetrainJobJson.Read(text);
        Assert.Equal(Job.Request, read.Request);
        Assert.Equal(Job with { Request = read.Request, Progress = read.Progress }, read);
        Assert.Equal(0.61, read.Progress.Validation!["auc"]);
        Assert.True(double.IsNaN(read.Progress.Validation["logLoss"]));
        // HTTP's answer, read back by the command line, is the message gRPC answers.
        RetrainJob message = Api.RetrainMapping.ToMessage(Job);
        Assert.Equal(message, Api.RetrainMapping.ToMessage(read));
        Assert.Equal(("scoreDecay", "registered", "v1", "v2", 2, 1_700_000_000_000), (message.Trigger, message.State, message.BaseVersion, message.Version, message.Attempt, message.Through));
        Assert.Equal(["MSFT"], message.TriggerAssets);

        // A start and a list, as POST and GET answer them.
        var start = new Models.RetrainStart(false, Job, "a model has one job at a time");
        Models.RetrainStart startRead = RetrainJobJson.ReadStart(Parse(json => RetrainJobJson.WriteStart(json, start)));
        Assert.Equal((false, "a model has one job at a time", Job.Id), (startRead.Started, startRead.Reason, startRead.Job!.Id));
        Assert.Null(RetrainJobJson.ReadStart(Parse(json => RetrainJobJson.WriteStart(json, start with { Job = null }))).Job);
        Assert.Equal([Job.Id, Job.Id], RetrainJobJson.ReadList(Parse(json => RetrainJobJson.WriteList(json, [Job, Job]))).Select(j => j.Id));
    }

    [Fact]
    public void A_record_stored_in_the_form_before_this_one_still_reads()
    {
        // As PostgresRetrainJobStore wrote it until the forms were merged: the record as System.Text.Json serialized it.
        const string Earlier = """
            {"id":"0123456789abcdef0123456789abcdef","request":{"name":"direction","trigger":"scoreDecay","reason":"accuracy 0.48 < 0.52","client":"auto",
            "assets":["MSFT","EURUSD"],"triggerAssets":["MSFT"],"spec":null,"label":"up_5","force":false},"state":"registered","detail":"registered v2",
            "progress":{"barsRead":5000,"rows":4900,"foldsDone":4,"folds":4,"roundsDone":100,"rounds":100,"validation":{"auc":0.61,"logLoss":"NaN"}},
            "baseVersion":"v1","version":"v2","attempt":2,"worker":"S127.0.0.1:11111:1","through":1700000000000,"createdAt":1700000100000,
            "updatedAt":1700000200000,"finishedAt":1700000300000,"isActive":false}
            """;
        Models.RetrainJob read = RetrainJobJson.Read(Earlier);
        Assert.Equal(Api.RetrainMapping.ToMessage(Job), Api.RetrainMapping.ToMessage(read));
        Assert.Equal(Job.Request, read.Request);
        Assert.True(double.IsNaN(read.Progress.Validation!["logLoss"]));
    }

    [Theory]
    [InlineData("[]", "a retraining job's record is a JSON object, not Array")]
    [InlineData("{\"id\":\"a\"}", "a retraining job's record lacks 'progress'")]
    [InlineData("{", "a retraining job's record is not valid JSON")]
    public void Text_that_is_not_a_job_is_refused_saying_why(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => RetrainJobJson.Read(text));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_of_the_wrong_kind_or_an_unknown_name_is_named()
    {
        string Broken(string field, string value)
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(RetrainJobJson.Write(Job))!;
            string[] path = field.Split('.');
            var parent = path.Length == 1 ? json : json[path[0]]!;
            parent[path[^1]] = System.Text.Json.Nodes.JsonNode.Parse(value);
            return Assert.Throws<FormatException>(() => RetrainJobJson.Read(json.ToJsonString())).Message;
        }
        Assert.Equal("a retraining job's 'trigger' '3' is not one of manual, schedule, drift, scoreDecay, barVolume", Broken("trigger", "\"3\""));
        Assert.Equal("a retraining job's 'progress.rows' is number, not string", Broken("progress.rows", "\"many\""));
        Assert.Equal("a retraining job's 'attempt' is not a 32-bit whole number", Broken("attempt", "1.5"));
        Assert.Equal("a retraining job's 'through' 'yesterday' is not an ISO 8601 time", Broken("through", "\"yesterday\""));
        Assert.Equal("a retraining job's 'spec' is string or null, not number", Broken("spec", "7"));
        Assert.Equal("a retraining job's 'force' is true or false, not null", Broken("force", "null"));
    }

    private static JsonElement Parse(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }
        return JsonDocument.Parse(buffer.ToArray()).RootElement;
    }
}
