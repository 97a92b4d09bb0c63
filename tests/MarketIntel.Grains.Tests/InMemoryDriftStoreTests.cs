using MarketIntel.Abstractions.Storage;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>The embedded defaults' drift store keeps the promises PostgreSQL's table keeps.</summary>
public sealed class InMemoryDriftStoreTests : DriftStoreContract
{
    protected override IDriftStore Store { get; } = new InMemoryDriftStore();
}
