using MarketIntel.Abstractions.Storage;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>The embedded defaults' model store keeps the rules PostgreSQL's tables keep.</summary>
public sealed class InMemoryModelStoreTests : ModelStoreContract
{
    protected override IModelStore Store { get; } = new InMemoryModelStore();
}
