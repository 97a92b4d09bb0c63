using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// A version's reference profile in the registry: checked when it arrives (on its own or inside a lineage) against the
/// model's features, given later once when the version has none, audited, and answered by GetProfile.
/// </summary>
[Collection(ClusterGroup.Name)]
public sealed class ModelProfileTests(ClusterFixture fixture)
{
    private static readonly byte[] Logistic = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));
    private static readonly string[] Names = ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"];

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private IModelRegistryGrain Registry => fixture.Grains.GetGrain<IModelRegistryGrain>(0);

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}";

    /// <summary>A profile of 200 rows of the given features (seeded, so the same seed makes the same profile).</summary>
    private static ReferenceProfile Profile(IReadOnlyList<string> names, int seed, string source = "test rows")
    {
        var random = new Random(seed);
        float[][] columns = [.. names.Select(_ => Enumerable.Range(0, 200).Select(_ => (float)random.NextDouble()).ToArray())];
        float[] predictions = [.. Enumerable.Range(0, 200).Select(_ => (float)random.NextDouble())];
        return ProfileBuilder.Build(names, columns, predictions, source, 10);
    }

    private static string Lineage(string? profile) =>
        $"{{\"label\": {{\"kind\": \"direction\", \"horizon\": 1}}, \"features\": {JsonSerializer.Serialize(Names)}{(profile is null ? "" : $", \"profile\": {profile}")}}}";

    private async Task<ModelRef> Registered(string? lineage = null)
    {
        var model = new ModelRef(Unique("profiled"), "v1");
        await Registry.Register(new ModelRegistration(model.Name, model.Version, Logistic, lineage, null, null, "ci-key"));
        return model;
    }

    [Fact]
    public async Task A_version_without_a_profile_answers_none_until_given_one_then_answers_it_and_the_change_is_audited()
    {
        ModelRef model = await Registered();
        Assert.Null(await Registry.GetProfile(model));
        Assert.False(Assert.Single((await Registry.GetModel(model.Name)).Versions).HasProfile);

        ReferenceProfile profile = Profile(Names, 1);
        // White space the registry does not keep: it stores the profile as the profile writes itself.
        string indented = JsonSerializer.Serialize(JsonDocument.Parse(profile.ToJson()).RootElement, Indented);
        ModelVersionDetails details = await Registry.SetProfile(model, indented, "ana");
        Assert.True(details.HasProfile);
        Assert.Equal(profile.ToJson(), await Registry.GetProfile(model));
        Assert.True(Assert.Single((await Registry.GetModel(model.Name)).Versions).HasProfile);

        ModelAuditRecord audit = (await Registry.GetAudit(model.Name, 10))[^1];
        Assert.Equal(ModelAudit.Profile, audit.Action);
        Assert.Equal("ana", audit.Client);
        Assert.Equal("v1", audit.Version);
        JsonElement detail = JsonDocument.Parse(audit.Detail).RootElement;
        Assert.Equal(8, detail.GetProperty("features").GetInt32());
        Assert.Equal(200, detail.GetProperty("rows").GetInt32());
        Assert.Equal("test rows", detail.GetProperty("source").GetString());
    }

    [Fact]
    public async Task A_profile_is_set_once_the_same_again_is_a_no_op_and_another_is_refused_leaving_the_first()
    {
        ModelRef model = await Registered();
        string first = Profile(Names, 2).ToJson();
        await Registry.SetProfile(model, first, "ana");
        await Registry.SetProfile(model, first, "ana");
        Assert.Single(await Registry.GetAudit(model.Name, 10), r => r.Action == ModelAudit.Profile);

        var refused = await Assert.ThrowsAsync<GridException>(() => Registry.SetProfile(model, Profile(Names, 3).ToJson(), "bob"));
        Assert.Equal(GridErrorKind.FailedPrecondition, refused.Kind);
        Assert.Contains($"model {model} has another reference profile already", refused.Message, StringComparison.Ordinal);
        Assert.Equal(first, await Registry.GetProfile(model));
    }

    [Theory]
    [InlineData("x0,x2,x1,x3,x4,x5,x6,x7", "profile.features[1]: 'x2' where the model's feature 1 is 'x1' (a profile lists the model's features in its column order)")]
    [InlineData("x0,x1,x2,x3,x4,x5,x6", "profile: has no reference for the model's feature 7 'x7' (the profile has 7 features, the model 8)")]
    [InlineData("x0,x1,x2,x3,x4,x5,x6,x7,x8", "profile.features[8]: 'x8' is not one of the model's 8 features")]
    public async Task A_profile_whose_features_are_not_the_models_in_order_is_refused_naming_the_first_difference(string features, string message)
    {
        ModelRef model = await Registered();
        var refused = await Assert.ThrowsAsync<GridException>(() => Registry.SetProfile(model, Profile(features.Split(','), 4).ToJson(), "ana"));
        Assert.Equal(GridErrorKind.InvalidArgument, refused.Kind);
        Assert.Equal($"model {model}: {message}", refused.Message);
        Assert.Null(await Registry.GetProfile(model));
        Assert.DoesNotContain(await Registry.GetAudit(model.Name, 10), r => r.Action == ModelAudit.Profile);
    }

    [Theory]
    [InlineData("{\"rows\": 1", "profile: not valid JSON")]
    [InlineData("[]", "profile: must be a JSON object")]
    [InlineData("{\"rows\": 5, \"source\": \"s\", \"features\": [{\"name\": \"x0\", \"edges\": [1, \"a\"], \"counts\": [1, 2, 2], \"missing\": 0, \"min\": 0, \"max\": 3}]}",
        "profile.features[0].edges[1]: must be a finite number, not \"a\"")]
    public async Task A_profile_that_is_not_one_is_refused_naming_the_place(string json, string message)
    {
        ModelRef model = await Registered();
        var refused = await Assert.ThrowsAsync<GridException>(() => Registry.SetProfile(model, json, "ana"));
        Assert.Equal(GridErrorKind.InvalidArgument, refused.Kind);
        Assert.StartsWith($"model {model}: {message}", refused.Message, StringComparison.Ordinal);
        Assert.Null(await Registry.GetProfile(model));
    }

    [Fact]
    public async Task A_profile_inside_a_lineage_is_checked_at_registration_and_a_bad_one_registers_nothing()
    {
        string name = Unique("lineage-profile");
        string bad = Profile([.. Names.Reverse()], 5).ToJson();
        var refused = await Assert.ThrowsAsync<GridException>(() =>
            Registry.Register(new ModelRegistration(name, "v1", Logistic, Lineage(bad), null, null, "ci-key")));
        Assert.Equal(GridErrorKind.InvalidArgument, refused.Kind);
        Assert.Contains("lineage.profile.features[0]: 'x7' where the model's feature 0 is 'x0'", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<GridException>(() => Registry.GetModel(name));

        // And when the lineage arrives after the version: refused, and no lineage set.
        ModelRef model = await Registered();
        await Assert.ThrowsAsync<GridException>(() => Registry.SetLineage(model, Lineage(bad), "ci-key"));
        Assert.Null(Assert.Single((await Registry.GetModel(model.Name)).Versions).Lineage);
    }

    [Fact]
    public async Task A_version_whose_lineage_carries_a_profile_answers_it_and_takes_only_that_one_again()
    {
        string carried = Profile(Names, 6).ToJson();
        ModelRef model = await Registered(Lineage(carried));
        Assert.Equal(carried, await Registry.GetProfile(model));
        Assert.True(Assert.Single((await Registry.GetModel(model.Name)).Versions).HasProfile);

        await Registry.SetProfile(model, carried, "ana");
        Assert.DoesNotContain(await Registry.GetAudit(model.Name, 10), r => r.Action == ModelAudit.Profile);
        var refused = await Assert.ThrowsAsync<GridException>(() => Registry.SetProfile(model, Profile(Names, 7).ToJson(), "ana"));
        Assert.Equal(GridErrorKind.FailedPrecondition, refused.Kind);
        Assert.Contains("its lineage carries one", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lineage_set_after_a_profile_must_carry_the_same_profile_or_none()
    {
        ModelRef model = await Registered();
        string given = Profile(Names, 8).ToJson();
        await Registry.SetProfile(model, given, "ana");
        var refused = await Assert.ThrowsAsync<GridException>(() => Registry.SetLineage(model, Lineage(Profile(Names, 9).ToJson()), "ana"));
        Assert.Equal(GridErrorKind.FailedPrecondition, refused.Kind);
        await Registry.SetLineage(model, Lineage(given), "ana");
        Assert.Equal(given, await Registry.GetProfile(model));
    }
}
