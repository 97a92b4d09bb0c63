using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains.Retraining;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>The embedded defaults' job store keeps the promises PostgreSQL's table keeps.</summary>
public sealed class InMemoryRetrainJobStoreTests : RetrainJobStoreContract
{
    protected override IRetrainJobStore Store { get; } = new InMemoryRetrainJobStore();
}
