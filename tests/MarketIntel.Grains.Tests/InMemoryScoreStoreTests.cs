using MarketIntel.Abstractions.Storage;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>The embedded defaults' score store keeps the promises PostgreSQL's tables keep.</summary>
public sealed class InMemoryScoreStoreTests : ScoreStoreContract
{
    protected override IScoreStore Store { get; } = new InMemoryScoreStore();
}
