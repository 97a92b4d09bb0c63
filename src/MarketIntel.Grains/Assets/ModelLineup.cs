using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Inference;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// The versions an asset predicts with after each bar: the served version at position 0, then the shadows of its
/// model name (the served version itself is never its own shadow). Worked out when the served version or the
/// deployment changes, not per bar; <see cref="Complete"/> is false when a shadow could not be loaded or described,
/// so that the next call tries again.
/// </summary>
internal sealed class ModelLineup(ModelRef[] models, Model[] loaded, ModelDeployment? deployment, bool complete)
{
    /// <summary>The versions, served first.</summary>
    public ModelRef[] Models { get; } = models;

    /// <summary>The silo's loaded copy of each.</summary>
    public Model[] Loaded { get; } = loaded;

    /// <summary>Whether every shadow of the deployment is in the lineup.</summary>
    public bool Complete { get; } = complete;

    public ModelRef Served => Models[0];

    /// <summary>Whether this lineup is still right for <paramref name="served"/> under <paramref name="current"/> (null: shadows are not run).</summary>
    public bool Matches(ModelRef served, Model servedLoaded, ModelDeployment? current)
    {
        if (!Complete || !served.Equals(Models[0]) || !ReferenceEquals(servedLoaded, Loaded[0]))
        {
            return false;
        }
        if (ReferenceEquals(current, deployment))
        {
            return true;
        }
        if (current is null || deployment is null || current.Epoch != deployment.Epoch || current.Shadows.Count != deployment.Shadows.Count)
        {
            return false;
        }
        for (int i = 0; i < current.Shadows.Count; i++)
        {
            if (current.Shadows[i] != deployment.Shadows[i])
            {
                return false;
            }
        }
        return true;
    }
}
