using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Training;
using MarketIntel.Training.Drift;
using InferenceModel = MarketIntel.Inference.Model;

namespace MarketIntel.Server.Tests;

/// <summary>
/// A version's reference profile over HTTP/JSON and gRPC on the real host (embedded defaults): given as JSON or built
/// from a feature-matrix CSV with the version's own predictions, read back, set once, refused naming what is wrong,
/// and refused from an archive the embedded grid does not keep.
/// </summary>
[Collection("server")]
public sealed class ModelProfileApiTests(ServerFixture server)
{
    private static readonly byte[] Logistic = File.ReadAllBytes(ServerFixture.PushedModel);
    private static readonly string[] Names = ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"];

    private Models.ModelsClient Models => new(server.Channel);

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..24];

    private static async Task<(HttpStatusCode Status, string Body)> Send(Task<HttpResponseMessage> request)
    {
        using HttpResponseMessage response = await request;
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<string> Registered()
    {
        string name = Unique("profile");
        using HttpResponseMessage response = await server.Http.PutAsync($"/models/{name}/versions/v1", new ByteArrayContent(Logistic));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return name;
    }

    private static ReferenceProfile Profile(IReadOnlyList<string> names, int seed)
    {
        var random = new Random(seed);
        return ProfileBuilder.Build(names, [.. names.Select(_ => Enumerable.Range(0, 100).Select(_ => (float)random.NextDouble()).ToArray())], null, "test rows", 8);
    }

    /// <summary>A feature-matrix CSV: a key column, the model's features out of order, an extra column, some cells empty; and its rows in model order.</summary>
    private static (string Csv, float[] Rows) Matrix(int rows)
    {
        var random = new Random(5);
        string[] header = ["timestamp", "x3", "extra", "x0", "x1", "x2", "x7", "x4", "x5", "x6"];
        var lines = new StringBuilder(string.Join(",", header)).Append('\n');
        var values = new float[rows * 8];
        for (int r = 0; r < rows; r++)
        {
            var cells = new List<string> { $"2024-01-{r % 28 + 1:00}" };
            foreach (string column in header[1..])
            {
                float value = random.NextDouble() < 0.03 ? float.NaN : (float)Math.Round(random.NextDouble() * 2 - 1, 4);
                if (column != "extra")
                {
                    values[r * 8 + Array.IndexOf(Names, column)] = value;
                }
                cells.Add(float.IsNaN(value) ? "" : value.ToString("R", CultureInfo.InvariantCulture));
            }
            lines.Append(string.Join(",", cells)).Append('\n');
        }
        return (lines.ToString(), values);
    }

    [Fact]
    public async Task A_profile_put_as_json_is_answered_by_get_and_the_version_says_it_has_one()
    {
        string name = await Registered();
        var (status, body) = await Send(server.Http.GetAsync($"/models/{name}/versions/v1/profile"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("no reference", body, StringComparison.Ordinal);
        Assert.False(JsonDocument.Parse((await Send(server.Http.GetAsync($"/models/{name}"))).Body).RootElement.GetProperty("versions")[0].GetProperty("hasProfile").GetBoolean());

        string profile = Profile(Names, 1).ToJson();
        (status, body) = await Send(server.Http.PutAsync($"/models/{name}/versions/v1/profile", new StringContent(profile, Encoding.UTF8, "application/json")));
        Assert.True(status == HttpStatusCode.OK, body);
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("hasProfile").GetBoolean());
        (status, body) = await Send(server.Http.GetAsync($"/models/{name}/versions/v1/profile"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(profile, body);

        // Set once: the same again is fine, another is a conflict (FAILED_PRECONDITION).
        Assert.Equal(HttpStatusCode.OK, (await Send(server.Http.PutAsync($"/models/{name}/versions/v1/profile", new StringContent(profile, Encoding.UTF8, "application/json")))).Status);
        (status, body) = await Send(server.Http.PutAsync($"/models/{name}/versions/v1/profile", new StringContent(Profile(Names, 2).ToJson(), Encoding.UTF8, "application/json")));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("has another reference profile already", body, StringComparison.Ordinal);
        Assert.Equal(["register", "profile"], JsonDocument.Parse((await Send(server.Http.GetAsync($"/models/{name}/audit"))).Body).RootElement
            .GetProperty("records").EnumerateArray().Select(r => r.GetProperty("action").GetString()));
    }

    [Fact]
    public async Task A_feature_matrix_csv_becomes_the_profile_of_its_rows_with_the_versions_own_predictions()
    {
        string name = await Registered();
        var (csv, rows) = Matrix(150);
        var (status, body) = await Send(server.Http.PutAsync($"/models/{name}/versions/v1/profile?bins=6", new StringContent(csv, Encoding.UTF8, "text/csv")));
        Assert.True(status == HttpStatusCode.OK, body);

        using InferenceModel model = InferenceModel.Load(Logistic, "fixture");
        var outputs = new float[150];
        model.PredictBatch(rows, outputs);
        ReferenceProfile expected = ProfileRows.Build(Names, rows, outputs, "feature-matrix CSV of 150 rows", 6);
        string served = (await Send(server.Http.GetAsync($"/models/{name}/versions/v1/profile"))).Body;
        Assert.Equal(expected.ToJson(), served);
        ReferenceProfile profile = ReferenceProfile.Parse(served);
        Assert.All(profile.Features, f => Assert.Equal(150, f.Present + f.Missing));
        Assert.Equal(150, profile.Prediction!.Present);
    }

    [Theory]
    [InlineData("application/json", "{\"rows\": 1,", "profile: not valid JSON")]
    [InlineData("application/json", "{\"rows\": 1, \"source\": \"s\", \"features\": [{\"name\": \"x0\", \"edges\": [], \"counts\": [-1], \"missing\": 0, \"min\": 0, \"max\": 1}]}",
        "profile.features[0].counts[0]: must be a whole number of 0 or more, not -1")]
    [InlineData("text/csv", "x0,x1,x2\n1,2,3\n", "the model's feature 'x3' is not a column")]
    [InlineData("text/csv", "x0,x1,x2,x3,x4,x5,x6,x7\n", "the feature matrix has no data rows")]
    public async Task Bad_profiles_are_refused_naming_what_is_wrong_and_set_nothing(string type, string body, string message)
    {
        string name = await Registered();
        var (status, answer) = await Send(server.Http.PutAsync($"/models/{name}/versions/v1/profile", new StringContent(body, Encoding.UTF8, type)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(message, answer, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(server.Http.GetAsync($"/models/{name}/versions/v1/profile"))).Status);
    }

    [Fact]
    public async Task A_profile_from_the_archive_is_refused_clearly_where_the_grid_keeps_no_archive_and_bad_bodies_name_the_field()
    {
        string name = await Registered();
        var (status, body) = await Send(server.Http.PostAsync($"/models/{name}/versions/v1/profile",
            new StringContent("{\"assets\": [\"EURUSD\"], \"from\": \"2024-01-01T00:00:00Z\", \"to\": \"2024-02-01T00:00:00Z\"}", Encoding.UTF8, "application/json")));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("keeps no bar archive", body, StringComparison.Ordinal);

        (status, body) = await Send(server.Http.PostAsync($"/models/{name}/versions/v1/profile", new StringContent("{\"assets\": [\"EURUSD\"], \"from\": \"last week\"}", Encoding.UTF8, "application/json")));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'from' must be an ISO 8601 time", body, StringComparison.Ordinal);
        (status, body) = await Send(server.Http.PostAsync($"/models/{name}/versions/v1/profile", new StringContent("{\"from\": \"2024-01-01\"}", Encoding.UTF8, "application/json")));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'assets' (a non-empty array of asset symbols) is required", body, StringComparison.Ordinal);
        (status, body) = await Send(server.Http.PostAsync($"/models/{name}/versions/v1/profile",
            new StringContent("{\"assets\": [\"A\"], \"from\": \"2024-02-01T00:00:00Z\", \"to\": \"2024-01-01T00:00:00Z\"}", Encoding.UTF8, "application/json")));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("from (2024-02-01T00:00:00Z) is after to (2024-01-01T00:00:00Z)", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_grpc_a_profile_is_set_from_json_or_a_matrix_read_back_and_refused_with_the_right_status()
    {
        string name = Unique("gprofile");
        await Models.RegisterAsync(new RegisterVersionRequest { Name = name, Version = "v1", Model = ByteString.CopyFrom(Logistic) });
        await Models.RegisterAsync(new RegisterVersionRequest { Name = name, Version = "v2", Model = ByteString.CopyFrom(Logistic) });
        var missing = await Assert.ThrowsAsync<RpcException>(() => Models.GetProfileAsync(new GetProfileRequest { Name = name, Version = "v1" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Contains("no reference", missing.Status.Detail, StringComparison.Ordinal);

        string profile = Profile(Names, 3).ToJson();
        ModelVersion set = await Models.SetProfileAsync(new SetProfileRequest { Name = name, Version = "v1", Profile = profile });
        Assert.True(set.HasProfile);
        Assert.Equal(profile, (await Models.GetProfileAsync(new GetProfileRequest { Name = name, Version = "v1" })).Profile);
        RegisteredModel model = await Models.GetAsync(new GetModelRequest { Name = name });
        Assert.Equal([true, false], model.Versions.Select(v => v.HasProfile));

        var (csv, _) = Matrix(40);
        await Models.SetProfileAsync(new SetProfileRequest { Name = name, Version = "v2", MatrixCsv = csv, Bins = 4 });
        ReferenceProfile built = ReferenceProfile.Parse((await Models.GetProfileAsync(new GetProfileRequest { Name = name, Version = "v2" })).Profile);
        Assert.Equal(40, built.Rows);
        Assert.All(built.Features, f => Assert.InRange(f.Bins, 1, 4));

        var conflict = await Assert.ThrowsAsync<RpcException>(() => Models.SetProfileAsync(new SetProfileRequest { Name = name, Version = "v1", Profile = Profile(Names, 4).ToJson() }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, conflict.StatusCode);
        var wrong = await Assert.ThrowsAsync<RpcException>(() => Models.SetProfileAsync(new SetProfileRequest { Name = name, Version = "v1", Profile = Profile([.. Names.Skip(1)], 4).ToJson() }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, wrong.StatusCode);
        Assert.Contains("profile.features[0]: 'x1' where the model's feature 0 is 'x0'", wrong.Status.Detail, StringComparison.Ordinal);
        var none = await Assert.ThrowsAsync<RpcException>(() => Models.SetProfileAsync(new SetProfileRequest { Name = name, Version = "v1" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, none.StatusCode);
        var archive = await Assert.ThrowsAsync<RpcException>(() => Models.ProfileFromArchiveAsync(new ProfileFromArchiveRequest { Name = name, Version = "v1", Assets = { "EURUSD" } }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, archive.StatusCode);
        Assert.Contains("keeps no bar archive", archive.Status.Detail, StringComparison.Ordinal);
    }
}
