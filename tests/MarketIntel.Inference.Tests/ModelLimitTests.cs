using System.Text;

namespace MarketIntel.Inference.Tests;

/// <summary>Models are client input: each cost a model can drive has a ceiling, and a model over one is refused naming it.</summary>
public sealed class ModelLimitTests
{
    private static ModelFormatException Refused(byte[] bytes, ModelLimits? limits = null) =>
        Assert.Throws<ModelFormatException>(() => Model.Load(bytes, "m.json", limits));

    [Fact]
    public void A_model_over_the_size_limit_is_refused_before_it_is_parsed()
    {
        byte[] bytes = Fixtures.ModelBytes("xgb-logistic-d3-n60");
        var limits = ModelLimits.Default with { MaxModelBytes = bytes.Length - 1 };
        Assert.Equal(
            $"m.json: the model is {ModelLimits.Count(bytes.Length)} bytes, over the limit of {ModelLimits.Count(bytes.Length - 1)} bytes on a model's size",
            Refused(bytes, limits).Message);
        // Junk of the same size gets the same answer: the size is checked first.
        Assert.Contains("over the limit of", Refused(new byte[bytes.Length], limits).Message, StringComparison.Ordinal);
        using Model atTheLimit = Model.Load(bytes, "m.json", limits with { MaxModelBytes = bytes.Length });
        Assert.Equal(8, atTheLimit.FeatureCount);
    }

    [Fact]
    public void The_default_size_limit_is_64_MiB_and_a_file_over_it_is_not_read()
    {
        Assert.Equal(64L << 20, ModelLimits.Default.MaxModelBytes);
        string path = Path.Combine(Path.GetTempPath(), $"marketintel-big-{Guid.NewGuid():N}.json");
        try
        {
            using (var file = File.Create(path))
            {
                file.SetLength((64L << 20) + 1);   // sparse on most file systems: nothing is written
            }
            var e = Assert.Throws<ModelFormatException>(() => Model.LoadFile(path));
            Assert.EndsWith("the model is 67,108,865 bytes, over the limit of 67,108,864 bytes on a model's size", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_limit_that_is_not_positive_is_a_configuration_error()
    {
        byte[] bytes = Fixtures.ModelBytes("xgb-logistic-d3-n60");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Model.Load(bytes, "m.json", ModelLimits.Default with { MaxTrees = 0 }));
        Assert.Equal("MaxTrees", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Model.Load(bytes, "m.json", ModelLimits.Default with { OnnxRunBudget = TimeSpan.Zero }));
    }

    [Fact]
    public void Json_nested_deeper_than_64_levels_is_refused_by_the_parser()
    {
        string deep = "{\"learner\": " + new string('[', 70) + new string(']', 70) + "}";
        var e = Refused(Encoding.UTF8.GetBytes(deep));
        Assert.StartsWith("m.json: not valid JSON", e.Message, StringComparison.Ordinal);
        Assert.Contains("64", e.Message, StringComparison.Ordinal);
    }
}
