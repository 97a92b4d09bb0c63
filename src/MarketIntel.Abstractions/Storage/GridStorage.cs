namespace MarketIntel.Abstractions.Storage;

/// <summary>The Orleans grain storage provider the grid's grains keep their state in: a host registers it under this name.</summary>
public static class GridStorage
{
    /// <summary>The provider's name.</summary>
    public const string Name = "grid";
}
