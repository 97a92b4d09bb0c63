using MarketIntel.Abstractions;

namespace MarketIntel.Server.Security;

/// <summary>
/// The least role a gRPC method or HTTP endpoint needs when API keys are on (endpoint metadata: on a gRPC service's
/// method, or added to an HTTP endpoint with <c>WithMetadata</c>). An endpoint without it needs <see cref="ApiRole.Admin"/>,
/// so a new endpoint is closed until someone decides who may call it.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = false)]
public sealed class RequiresRoleAttribute(ApiRole role) : Attribute
{
    public ApiRole Role { get; } = role;
}
