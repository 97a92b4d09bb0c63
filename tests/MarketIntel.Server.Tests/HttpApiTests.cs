using System.Net;
using System.Text;
using System.Text.Json;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Inference;

namespace MarketIntel.Server.Tests;

[Collection("server")]
public sealed class HttpApiTests(ServerFixture server)
{
    private HttpClient Http => server.Http;

    [Fact]
    public async Task Predict_answers_with_the_model_version_and_the_time_of_the_last_bar()
    {
        string asset = Bars.NewAsset("http");
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 100));

        using var response = await Http.GetAsync(new Uri($"/predict/{asset}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        var grpc = await server.Grpc.PredictAsync(new PredictRequest { Asset = asset });
        Assert.Equal(asset, root.GetProperty("asset").GetString());
        Assert.Equal(grpc.Value, root.GetProperty("prediction").GetSingle());
        Assert.Equal("direction-d3-n60", root.GetProperty("model").GetString());
        Assert.Equal(grpc.Version, root.GetProperty("version").GetString());
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(Bars.Timestamp(99)), root.GetProperty("asOf").GetDateTimeOffset());
    }

    [Theory]
    [InlineData("BRK/B")]
    [InlineData("100%/2F")]
    [InlineData("a?c#d&e+f")]
    public async Task Symbols_with_slashes_percents_and_query_characters_name_the_same_asset_over_http_as_over_grpc(string suffix)
    {
        string asset = Bars.NewAsset("sym") + suffix;
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 40));
        var grpc = await server.Grpc.PredictAsync(new PredictRequest { Asset = asset });

        string escaped = Uri.EscapeDataString(asset);
        using var json = JsonDocument.Parse(await Http.GetStringAsync(new Uri($"/predict/{escaped}?x=%2F", UriKind.Relative)));
        Assert.Equal(asset, json.RootElement.GetProperty("asset").GetString());
        Assert.Equal(grpc.Value, json.RootElement.GetProperty("prediction").GetSingle());
        using var features = await Http.GetAsync(new Uri($"/features/{escaped}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, features.StatusCode);
    }

    [Fact]
    public async Task Features_come_back_by_spec_name_with_null_while_warming_up()
    {
        string asset = Bars.NewAsset("features");
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 30));

        using var json = JsonDocument.Parse(await Http.GetStringAsync(new Uri($"/features/{asset}", UriKind.Relative)));
        // asOf comes first, then the features in the spec's order.
        var features = json.RootElement.EnumerateObject().Skip(1).ToArray();
        var names = features.Select(p => p.Name).ToArray();
        double[][] batch = FeatureSet.Parse(string.Join(",", names)).Compute(Slice(Bars.Msft, 30));
        Assert.Contains("sma_20", names);
        Assert.Contains("lag_1_rsi_14", names);
        foreach (var (property, i) in features.Select((p, i) => (p, i)))
        {
            double expected = batch[i][29];
            if (double.IsNaN(expected))
            {
                Assert.Equal(JsonValueKind.Null, property.Value.ValueKind);
            }
            else
            {
                Assert.Equal(expected, property.Value.GetDouble());
            }
        }
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("macdsignal_12_26_9").ValueKind);
    }

    [Fact]
    public async Task Features_carry_asOf_the_last_bar_in_the_format_of_predict()
    {
        string asset = Bars.NewAsset("asof");
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 30));

        string features = await Http.GetStringAsync(new Uri($"/features/{asset}", UriKind.Relative));
        string prediction = await Http.GetStringAsync(new Uri($"/predict/{asset}", UriKind.Relative));
        using var json = JsonDocument.Parse(features);
        using var predicted = JsonDocument.Parse(prediction);
        string asOf = json.RootElement.GetProperty("asOf").GetString()!;
        Assert.Equal("asOf", json.RootElement.EnumerateObject().First().Name);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(Bars.Timestamp(29)), DateTimeOffset.Parse(asOf, System.Globalization.CultureInfo.InvariantCulture));
        // The same text, not merely the same instant: scripts compare the two strings.
        Assert.Equal(predicted.RootElement.GetProperty("asOf").GetString(), asOf);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", asOf);
    }

    [Fact]
    public async Task Errors_keep_apostrophes_and_quotes_readable_and_stay_valid_json()
    {
        string unknown = Bars.NewAsset("o'neil\"q");
        using var notFound = await Http.GetAsync(new Uri($"/predict/{Uri.EscapeDataString(unknown)}", UriKind.Relative));
        string body = await notFound.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Contains("o'neil", body, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u0027", body, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(body);
        Assert.Contains(unknown, json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_root_is_an_index_of_the_api_metrics_and_dashboard()
    {
        using var response = await Http.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var http = json.RootElement.GetProperty("http").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["GET /predict/{asset}", "GET /features/{asset}", "PUT /features/{asset}", "GET /models/{name}/scores", "GET /healthz", "GET /readyz", .. Api.ModelsHttpApi.Paths.Select(p => p.Path), "GET /drift/{asset}", "GET /drift",
            "POST /models/{name}/retrain", "GET /models/{name}/retrain", "GET /models/{name}/retrain/{id}", "DELETE /models/{name}/retrain/{id}", "GET /assets", .. WebConsole.ConsoleEndpoints.Paths.Select(p => p.Path)], http);
        Assert.Equal("/metrics", json.RootElement.GetProperty("metrics").GetString());
        string dashboard = json.RootElement.GetProperty("dashboard").GetString()!;
        Assert.Contains($"port {server.GrpcPort}", json.RootElement.GetProperty("grpc").GetString(), StringComparison.Ordinal);
        // Each path it points to is there.
        using var metrics = await Http.GetAsync(new Uri(json.RootElement.GetProperty("metrics").GetString()!, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        using var board = await Http.GetAsync(new Uri(dashboard + "/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, board.StatusCode);
    }

    [Fact]
    public async Task Pushed_features_feed_a_model_without_grammar_names()
    {
        string asset = Bars.NewAsset("push");
        await server.Grpc.RegisterModelAsync(new RegisterModelRequest { Name = "pushed", Version = "1", Model = Bars.File(ServerFixture.PushedModel) });
        await server.Grpc.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = "pushed", Version = "1" });

        float[] vector = [0.1f, -0.2f, 0.3f, 1.5f, -1, 0, 2, 0.5f];
        using var put = await Http.PutAsync(new Uri($"/features/{asset}", UriKind.Relative), Json("[0.1,-0.2,0.3,1.5,-1,0,2,0.5]"));
        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);

        using var json = JsonDocument.Parse(await Http.GetStringAsync(new Uri($"/predict/{asset}", UriKind.Relative)));
        using Model model = Model.LoadFile(ServerFixture.PushedModel);
        var expected = new float[1];
        model.Predict(vector, expected);
        Assert.Equal(expected[0], json.RootElement.GetProperty("prediction").GetSingle());
        Assert.Equal("pushed", json.RootElement.GetProperty("model").GetString());
    }

    [Theory]
    [InlineData("[1, \"x\", 3]", "body[1]: expected a number or null, got a string")]
    [InlineData("{\"a\": 1}", "body: expected a JSON array of numbers, got an object")]
    [InlineData("[1, 2", "body: not valid JSON")]
    [InlineData("[]", "a pushed feature vector must not be empty")]
    [InlineData("[1e300]", "body[0]: 1e300 is outside the range of a 32-bit float")]
    public async Task A_bad_feature_vector_is_a_400_naming_the_problem_and_changes_nothing(string body, string message)
    {
        string asset = Bars.NewAsset("bad-push");
        await server.Grpc.RegisterModelAsync(new RegisterModelRequest { Name = "pushed", Version = "1", Model = Bars.File(ServerFixture.PushedModel) });
        await server.Grpc.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = "pushed", Version = "1" });
        using (await Http.PutAsync(new Uri($"/features/{asset}", UriKind.Relative), Json("[1,2,3,4,5,6,7,8]")))
        {
        }
        string before = await Http.GetStringAsync(new Uri($"/predict/{asset}", UriKind.Relative));

        using var response = await Http.PutAsync(new Uri($"/features/{asset}", UriKind.Relative), Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(message, error.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("INVALID_ARGUMENT", error.RootElement.GetProperty("code").GetString());

        string after = await Http.GetStringAsync(new Uri($"/predict/{asset}", UriKind.Relative));
        Assert.Equal(Prediction(before), Prediction(after));
    }

    [Fact]
    public async Task Unknown_assets_are_404_and_unservable_requests_409()
    {
        string unknown = Bars.NewAsset("nobody");
        using var notFound = await Http.GetAsync(new Uri($"/predict/{unknown}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Contains(unknown, await notFound.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        string asset = Bars.NewAsset("conflict");
        await server.Grpc.RegisterModelAsync(new RegisterModelRequest { Name = "pushed", Version = "1", Model = Bars.File(ServerFixture.PushedModel) });
        await server.Grpc.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = "pushed", Version = "1" });
        using var conflict = await Http.GetAsync(new Uri($"/predict/{asset}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Contains("none were pushed", await conflict.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_count_bars_predictions_and_requests_per_endpoint()
    {
        string asset = Bars.NewAsset("metrics");
        var bad = Bars.At(5);
        bad.Open = 0;
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 5).Append(bad));
        using (await Http.GetAsync(new Uri($"/predict/{asset}", UriKind.Relative)))
        {
        }
        using (await Http.GetAsync(new Uri($"/predict/{Bars.NewAsset("never-seen")}", UriKind.Relative)))
        {
        }
        using (await Http.SendAsync(new HttpRequestMessage(new HttpMethod("BREW"), new Uri("/no/such/path", UriKind.Relative))))
        {
        }

        string metrics = await Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.True(Value(metrics, "marketintel_bars_accepted_total") >= 5, metrics);
        Assert.True(Value(metrics, "marketintel_bars_rejected_total") >= 1);
        Assert.True(Value(metrics, "marketintel_predictions_total") >= 1);
        Assert.True(Value(metrics, "marketintel_active_assets") >= 1);
        Assert.True(Value(metrics, "marketintel_loaded_model_versions") >= 1);
        Assert.Contains("http_request_duration_seconds_count{code=\"200\",method=\"GET\",endpoint=\"/predict/{asset}\",grpc_status=\"\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("endpoint=\"/marketintel.v1.Grid/IngestBars\"", metrics, StringComparison.Ordinal);
        Assert.Contains("http_requests_received_total{code=\"404\",method=\"GET\",endpoint=\"/predict/{asset}\",grpc_status=\"\"}", metrics, StringComparison.Ordinal);
        // Unmatched paths and non-standard methods share one series, so clients cannot create series at will.
        Assert.Contains("http_requests_received_total{code=\"404\",method=\"OTHER\",endpoint=\"\",grpc_status=\"\"}", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("BREW", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_Orleans_dashboard_is_served_at_its_documented_path()
    {
        using var response = await Http.GetAsync(new Uri("/dashboard/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("html", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static float Prediction(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("prediction").GetSingle();
    }

    private static double Value(string metrics, string name)
    {
        string line = metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static BarSeries Slice(BarSeries s, int n) =>
        new(s.Timestamps[..n], s.Open[..n], s.High[..n], s.Low[..n], s.Close[..n], s.Volume[..n]);
}
