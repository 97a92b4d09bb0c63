using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.Features;
using MarketIntel.Inference;
using Bar = MarketIntel.Api.V1.Bar;

namespace MarketIntel.Server.Tests;

[Collection("server")]
public sealed class GrpcApiTests(ServerFixture server)
{
    private Grid.GridClient Client => server.Grpc;

    [Fact]
    public async Task Ingest_replies_name_the_holder_and_a_call_expecting_another_holder_is_refused_with_nothing_applied()
    {
        string asset = "HOLDER-" + Guid.NewGuid().ToString("N");
        var first = await Bars.Ingest(Client, asset, Bars.Range(0, 10));
        Assert.StartsWith("memory-", first.Holder, StringComparison.Ordinal);  // embedded defaults keep bars in memory only

        using var call = Client.IngestBars();
        await call.RequestStream.WriteAsync(new IngestBarsRequest { Asset = asset, ExpectedHolder = "memory-gone", Bars = { Bars.Range(10, 10) } });
        await call.RequestStream.CompleteAsync();
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await call);
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Equal(first.Holder, refused.Trailers.GetValue("marketintel-holder"));
        Assert.Contains($"this server is holder {first.Holder}, not memory-gone", refused.Status.Detail, StringComparison.Ordinal);
        var features = await Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = asset });
        Assert.Equal(Bars.Timestamp(9), features.AsOf);

        var same = new IngestBarsRequest { Asset = asset, ExpectedHolder = first.Holder, Bars = { Bars.Range(10, 10) } };
        using var again = Client.IngestBars();
        await again.RequestStream.WriteAsync(same);
        await again.RequestStream.CompleteAsync();
        Assert.Equal(10, (await again).Accepted);
    }

    [Fact]
    public async Task Ingested_features_equal_the_batch_form_and_predictions_use_them()
    {
        string asset = Bars.NewAsset("ingest");
        var reply = await Bars.Ingest(Client, asset, Bars.Range(0, Bars.Msft.Count));
        Assert.Equal(Bars.Msft.Count, reply.Accepted);
        Assert.Equal(0, reply.Rejected + reply.Ignored);

        var features = await Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = asset });
        Assert.Equal(Bars.Timestamp(Bars.Msft.Count - 1), features.AsOf);
        double[][] batch = FeatureSet.Parse(string.Join(",", features.Names)).Compute(Bars.Msft);
        for (int f = 0; f < features.Names.Count; f++)
        {
            Assert.Equal(batch[f][^1], features.Values[f]);
        }

        using Model model = Model.LoadFile(ServerFixture.DirectionModel);
        float[] inputs = model.FeatureNames!.Select(n => (float)features.Values[features.Names.IndexOf(n)]).ToArray();
        var expected = new float[1];
        model.Predict(inputs, expected);
        var prediction = await Client.PredictAsync(new PredictRequest { Asset = asset });
        Assert.Equal(expected[0], prediction.Value);
        Assert.Equal("direction-d3-n60", prediction.Model);
        Assert.Equal(features.AsOf, prediction.AsOf);
    }

    [Fact]
    public async Task Bad_bars_are_rejected_with_reasons_and_leave_the_features_as_a_clean_run_has_them()
    {
        string clean = Bars.NewAsset("clean");
        string dirty = Bars.NewAsset("dirty");
        await Bars.Ingest(Client, clean, Bars.Range(0, 60));

        var bad = new List<Bar>(Bars.Range(0, 30));
        var negative = Bars.At(30);
        negative.Close = -1;
        var inverted = Bars.At(30);
        inverted.Low = inverted.High + 1;
        var nan = Bars.At(30);
        nan.Volume = double.NaN;
        bad.AddRange([negative, inverted, nan]);
        bad.AddRange(Bars.Range(30, 30));
        var reply = await Bars.Ingest(Client, dirty, bad, perMessage: 7);

        Assert.Equal(60, reply.Accepted);
        Assert.Equal(3, reply.Rejected);
        Assert.Equal(3, reply.Rejections.Count);
        Assert.All(reply.Rejections, r => Assert.Equal(dirty, r.Asset));
        Assert.Contains("close -1 must be positive", reply.Rejections[0].Reason, StringComparison.Ordinal);
        Assert.Contains($"bar at {Bars.Timestamp(30)}", reply.Rejections[0].Reason, StringComparison.Ordinal);
        Assert.Contains("is below low", reply.Rejections[1].Reason, StringComparison.Ordinal);
        Assert.Contains("volume NaN is not a finite number", reply.Rejections[2].Reason, StringComparison.Ordinal);

        var a = await Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = clean });
        var b = await Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = dirty });
        Assert.Equal(a.Values, b.Values);
        Assert.Equal(a.AsOf, b.AsOf);
    }

    [Fact]
    public async Task Replaying_a_stream_is_acknowledged_as_ignored_and_changes_nothing()
    {
        string asset = Bars.NewAsset("replay");
        await Bars.Ingest(Client, asset, Bars.Range(0, 120));
        var before = await Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = asset });

        var replay = await Bars.Ingest(Client, asset, Bars.Range(0, 120));
        Assert.Equal(0, replay.Accepted);
        Assert.Equal(120, replay.Ignored);
        Assert.Equal(0, replay.Rejected);
        var after = await Client.GetFeaturesAsync(new GetFeaturesRequest { Asset = asset });
        Assert.Equal(before.Values, after.Values);

        // A replay that runs on past the end adds only the new bars.
        var resumed = await Bars.Ingest(Client, asset, Bars.Range(100, 40));
        Assert.Equal((20, 20), (resumed.Accepted, resumed.Ignored));
    }

    [Fact]
    public async Task Errors_come_back_as_the_statuses_that_name_them()
    {
        var empty = await Assert.ThrowsAsync<RpcException>(() => Client.PredictAsync(new PredictRequest { Asset = "" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        Assert.Contains("asset symbol must not be empty", empty.Status.Detail, StringComparison.Ordinal);

        string unknown = Bars.NewAsset("unknown");
        var missing = await Assert.ThrowsAsync<RpcException>(() => Client.PredictAsync(new PredictRequest { Asset = unknown }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Contains(unknown, missing.Status.Detail, StringComparison.Ordinal);

        var badModel = await Assert.ThrowsAsync<RpcException>(() => Client.RegisterModelAsync(new RegisterModelRequest
        {
            Name = "broken",
            Version = "1",
            Model = Google.Protobuf.ByteString.CopyFromUtf8("{\"learner\": 3}"),
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badModel.StatusCode);

        var unregistered = await Assert.ThrowsAsync<RpcException>(() => Client.AssignModelAsync(new AssignModelRequest
        {
            Assets = { unknown },
            Name = "nope",
            Version = "9",
        }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unregistered.StatusCode);
        Assert.Contains("nope@9 is not registered", unregistered.Status.Detail, StringComparison.Ordinal);

        // A model fed pushed vectors, and a vector of the wrong length: the request cannot be served yet.
        string pushed = Bars.NewAsset("pushed");
        await Client.RegisterModelAsync(new RegisterModelRequest { Name = "pushed", Version = "1", Model = Bars.File(ServerFixture.PushedModel) });
        await Client.AssignModelAsync(new AssignModelRequest { Assets = { pushed }, Name = "pushed", Version = "1" });
        await Client.PushFeaturesAsync(new PushFeaturesRequest { Asset = pushed, Values = { 1, 2, 3 } });
        var precondition = await Assert.ThrowsAsync<RpcException>(() => Client.PredictAsync(new PredictRequest { Asset = pushed }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, precondition.StatusCode);
        Assert.Contains("takes 8 features, the pushed vector has 3", precondition.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PredictBatch_answers_every_asset_in_order_with_a_prediction_or_its_error()
    {
        string known = Bars.NewAsset("batch");
        await Bars.Ingest(Client, known, Bars.Range(0, 50));
        string unknown = Bars.NewAsset("batch-unknown");
        var reply = await Client.PredictBatchAsync(new PredictBatchRequest { Assets = { known, unknown, "bad symbol" } });

        Assert.Equal([known, unknown, "bad symbol"], reply.Results.Select(r => r.Asset));
        var single = await Client.PredictAsync(new PredictRequest { Asset = known });
        Assert.Equal(single.Value, reply.Results[0].Prediction.Value);
        Assert.Equal("NOT_FOUND", reply.Results[1].ErrorCode);
        Assert.Null(reply.Results[1].Prediction);
        Assert.Equal("INVALID_ARGUMENT", reply.Results[2].ErrorCode);
        Assert.Contains("assets[2]", reply.Results[2].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamPredictions_sends_one_prediction_per_accepted_bar_in_order()
    {
        string asset = Bars.NewAsset("stream");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var stream = Client.StreamPredictions(new StreamPredictionsRequest { Assets = { asset } }, cancellationToken: cancel.Token);
        await stream.ResponseHeadersAsync;

        var reply = await Bars.Ingest(Client, asset, Bars.Range(0, 80).Concat(Bars.Range(0, 10)), perMessage: 9);
        Assert.Equal(80, reply.Accepted);

        var received = new List<Prediction>();
        while (received.Count < 80 && await stream.ResponseStream.MoveNext(cancel.Token))
        {
            received.Add(stream.ResponseStream.Current);
        }
        Assert.Equal(Enumerable.Range(0, 80).Select(Bars.Timestamp), received.Select(p => p.AsOf));
        // The last one is what Predict answers now.
        var now = await Client.PredictAsync(new PredictRequest { Asset = asset });
        Assert.Equal(now.Value, received[^1].Value);
    }
}
