using MarketIntel.Abstractions;
using MarketIntel.Api.V1;
using MarketIntel.Server.Api;
using MarketIntel.Server.Application;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Server.Tests;

/// <summary>
/// The rules both APIs and the host's start-up take from <see cref="GridOperations"/>. A silo reads the default
/// model again only every <see cref="Grains.SiloModelCache.DefaultRefresh"/>, so each way of moving the default
/// must make the very next prediction on this silo use it, even for an asset whose reply was just served locally.
/// Each test puts the default back as it found it: the other tests in the collection expect the fixture's model.
/// </summary>
[Collection("server")]
public sealed class GridOperationsTests(ServerFixture server)
{
    private GridOperations Operations => server.Services.GetRequiredService<GridOperations>();

    private IModelRegistryGrain Registry => server.Services.GetRequiredService<IGrainFactory>().GetGrain<IModelRegistryGrain>(0);

    [Fact]
    public async Task A_model_registered_as_default_or_set_as_default_serves_the_very_next_prediction()
    {
        string asset = await AssetWithBars("ops-default");
        ModelRef started = await Default();
        byte[] bytes = await File.ReadAllBytesAsync(ServerFixture.DirectionModel);
        try
        {
            await ServedTwice(asset, started);
            var registered = new ModelRef(started.Name, "ops-registered");
            await Operations.RegisterModel(registered, bytes, makeDefault: true);
            Assert.Equal(registered, (await Operations.Predict(asset)).Model);

            var set = new ModelRef(started.Name, "ops-set");
            await Operations.RegisterModel(set, bytes, makeDefault: false);
            await ServedTwice(asset, registered);
            await Operations.SetDefault(set);
            Assert.Equal(set, (await Operations.Predict(asset)).Model);
        }
        finally
        {
            await Operations.SetDefault(started);
        }
    }

    [Fact]
    public async Task An_assignment_that_also_makes_the_default_moves_assigned_and_unassigned_assets_at_once()
    {
        string assigned = await AssetWithBars("ops-assigned");
        string unassigned = await AssetWithBars("ops-unassigned");
        ModelRef started = await Default();
        var next = new ModelRef(started.Name, "ops-assign");
        await Operations.RegisterModel(next, await File.ReadAllBytesAsync(ServerFixture.DirectionModel), makeDefault: false);
        try
        {
            await ServedTwice(unassigned, started);
            await Operations.AssignModel(next, [assigned], makeDefault: true);
            Assert.Equal(next, (await Operations.Predict(unassigned)).Model);
            Assert.Equal(next, (await Operations.Predict(assigned)).Model);
        }
        finally
        {
            await Operations.SetDefault(started);
        }
    }

    // A new asset with enough bars for the fixture's model to predict.
    private async Task<string> AssetWithBars(string prefix)
    {
        string asset = Bars.NewAsset(prefix);
        IngestResult added = await Operations.AddBars(asset, new IngestBarsRequest { Bars = { Bars.Range(0, 60) } }.ToBars());
        Assert.Equal(60, added.Accepted);
        return asset;
    }

    private async Task<ModelRef> Default()
    {
        ModelRef? model = await Registry.GetDefault();
        Assert.NotNull(model);
        return model;
    }

    // The second read is answered from the asset's published snapshot with the default this silo holds, which is
    // what a later default change has to displace.
    private async Task ServedTwice(string asset, ModelRef model)
    {
        Assert.Equal(model, (await Operations.Predict(asset)).Model);
        Assert.Equal(model, (await Operations.Predict(asset)).Model);
    }
}
