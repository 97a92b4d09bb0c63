using MarketIntel.Api.V1;
using MarketIntel.Grains;
using MarketIntel.Inference;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Server.Tests;

/// <summary>
/// Predictions answered on the request's thread from a grain's published snapshot must be the ones the grain
/// would give: every acknowledged change (a bar, a pushed vector, an assignment) shows in the next reply.
/// </summary>
[Collection("server")]
public sealed class LocalReadPathTests(ServerFixture server)
{
    private LocalPredictor Local => server.Services.GetRequiredService<LocalPredictor>();

    [Fact]
    public async Task Each_acknowledged_bar_shows_in_the_next_prediction_and_repeated_reads_skip_the_grain()
    {
        string asset = Bars.NewAsset("local");
        string twin = Bars.NewAsset("twin");
        await Bars.Ingest(server.Grpc, asset, Bars.Range(0, 60));
        await Bars.Ingest(server.Grpc, twin, Bars.Range(0, 60));
        for (int i = 60; i < 90; i++)
        {
            await Bars.Ingest(server.Grpc, asset, [Bars.At(i)]);
            await Bars.Ingest(server.Grpc, twin, [Bars.At(i)]);
            Prediction first = await server.Grpc.PredictAsync(new PredictRequest { Asset = asset });
            long hits = Local.LocalHits;
            Prediction again = await server.Grpc.PredictAsync(new PredictRequest { Asset = asset });
            Assert.True(Local.LocalHits > hits, "a repeated prediction of an unchanged asset went to the grain");
            Assert.Equal(Bars.Timestamp(i), first.AsOf);
            Assert.Equal(first, again);

            // The twin's grain, asked directly, agrees with what the read path answered.
            var direct = await server.Services.GetRequiredService<IGrainFactory>().GetGrain<Abstractions.IAssetGrain>(twin).Predict();
            Assert.Equal(direct.Values[0], first.Value);
            Assert.Equal(direct.AsOf, first.AsOf);
        }
    }

    [Fact]
    public async Task A_new_pushed_vector_and_a_new_assignment_show_in_the_next_prediction()
    {
        string asset = Bars.NewAsset("local-push");
        await server.Grpc.RegisterModelAsync(new RegisterModelRequest { Name = "pushed", Version = "1", Model = Bars.File(ServerFixture.PushedModel) });
        await server.Grpc.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = "pushed", Version = "1" });
        using Model model = Model.LoadFile(ServerFixture.PushedModel);
        var random = new Random(3);
        float previous = float.NaN;
        for (int round = 0; round < 20; round++)
        {
            float[] vector = Enumerable.Range(0, model.FeatureCount).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
            await server.Grpc.PushFeaturesAsync(new PushFeaturesRequest { Asset = asset, Values = { vector } });
            var expected = new float[1];
            model.Predict(vector, expected);
            for (int read = 0; read < 3; read++)
            {
                Prediction p = await server.Grpc.PredictAsync(new PredictRequest { Asset = asset });
                Assert.Equal(expected[0], p.Value);
                Assert.Equal("pushed", p.Model);
            }
            Assert.NotEqual(previous, expected[0]);
            previous = expected[0];
        }

        // Assigned to a second version: the very next prediction names it.
        await server.Grpc.RegisterModelAsync(new RegisterModelRequest { Name = "pushed", Version = "2", Model = Bars.File(ServerFixture.PushedModel) });
        await server.Grpc.AssignModelAsync(new AssignModelRequest { Assets = { asset }, Name = "pushed", Version = "2" });
        Assert.Equal("2", (await server.Grpc.PredictAsync(new PredictRequest { Asset = asset })).Version);
    }
}
