using MarketIntel.Abstractions;
using MarketIntel.Grains;
using MarketIntel.Storage.Postgres.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace MarketIntel.Storage.Postgres.Tests;

[Collection(PostgresGroup.Name)]
public sealed class GrainStorageTests(PostgresFixture postgres) : IDisposable
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    private readonly Npgsql.NpgsqlDataSource _database = postgres.NewMigratedDatabase();

    private PostgresGrainStorage Storage => new("svc", _database, Serializer);

    public void Dispose() => _database.Dispose();

    private static GrainId Asset(string symbol) => GrainId.Create("asset", symbol);

    private static AssetState Sample() => new()
    {
        Assigned = new ModelRef("m", "v1"),
        Pushed = [1.5f, float.NaN, -2f],
        PushedAt = 1_700_000_000_000,
        Spec = "sma_20,lag_1_rsi_14",
    };

    [Fact]
    public async Task A_grain_never_written_reads_as_a_new_state_without_an_etag()
    {
        var state = new GrainState<AssetState>();
        await Storage.ReadStateAsync("asset", Asset("NEW"), state);
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Null(state.State!.Assigned);
    }

    [Fact]
    public async Task Written_state_reads_back_equal_with_the_etag_of_the_write()
    {
        var written = new GrainState<AssetState>(Sample());
        await Storage.WriteStateAsync("asset", Asset("A"), written);
        var read = new GrainState<AssetState>();
        await Storage.ReadStateAsync("asset", Asset("A"), read);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(new ModelRef("m", "v1"), read.State!.Assigned);
        Assert.Equal(Sample().Pushed, read.State!.Pushed);
        Assert.Equal(Sample().PushedAt, read.State!.PushedAt);
        Assert.Equal(Sample().Spec, read.State!.Spec);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_fails_and_leaves_the_newer_state()
    {
        var first = new GrainState<AssetState>(Sample());
        await Storage.WriteStateAsync("asset", Asset("B"), first);
        var other = new GrainState<AssetState>();
        await Storage.ReadStateAsync("asset", Asset("B"), other);  // a second activation reads the same version

        first.State!.Spec = "ema_5";
        await Storage.WriteStateAsync("asset", Asset("B"), first);  // the first one writes: version 2
        other.State!.Spec = "stale";
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync("asset", Asset("B"), other));

        var read = new GrainState<AssetState>();
        await Storage.ReadStateAsync("asset", Asset("B"), read);
        Assert.Equal("ema_5", read.State!.Spec);
    }

    [Fact]
    public async Task Two_first_writes_of_one_grain_cannot_both_succeed()
    {
        var one = new GrainState<AssetState>(Sample());
        var two = new GrainState<AssetState>(new AssetState { Spec = "second" });
        await Storage.WriteStateAsync("asset", Asset("C"), one);
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync("asset", Asset("C"), two));
    }

    [Fact]
    public async Task Clearing_removes_the_row_and_needs_the_current_etag()
    {
        var state = new GrainState<AssetState>(Sample());
        await Storage.WriteStateAsync("asset", Asset("D"), state);
        var stale = new GrainState<AssetState> { ETag = state.ETag };
        await Storage.WriteStateAsync("asset", Asset("D"), state);
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.ClearStateAsync("asset", Asset("D"), stale));

        await Storage.ClearStateAsync("asset", Asset("D"), state);
        Assert.Null(state.ETag);
        var read = new GrainState<AssetState>();
        await Storage.ReadStateAsync("asset", Asset("D"), read);
        Assert.False(read.RecordExists);
    }

    [Fact]
    public async Task States_are_kept_apart_by_grain_and_by_state_name()
    {
        await Storage.WriteStateAsync("asset", Asset("E"), new GrainState<AssetState>(new AssetState { Spec = "e" }));
        await Storage.WriteStateAsync("asset", Asset("F"), new GrainState<AssetState>(new AssetState { Spec = "f" }));
        await Storage.WriteStateAsync("other", Asset("E"), new GrainState<AssetState>(new AssetState { Spec = "e-other" }));
        foreach (var (name, symbol, expected) in new[] { ("asset", "E", "e"), ("asset", "F", "f"), ("other", "E", "e-other") })
        {
            var read = new GrainState<AssetState>();
            await Storage.ReadStateAsync(name, Asset(symbol), read);
            Assert.Equal(expected, read.State!.Spec);
        }
    }
}
