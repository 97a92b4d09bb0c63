namespace MarketIntel.Ops.Tests;

/// <summary>
/// The classes that start real servers and grids run one at a time: side by side on a 2-core CI machine they would
/// mostly measure each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class OpsGroup
{
    public const string Name = "ops";
}
