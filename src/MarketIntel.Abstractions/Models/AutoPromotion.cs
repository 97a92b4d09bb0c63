namespace MarketIntel.Abstractions.Models;

/// <summary>
/// The automatic promotion policy (a single grain, key 0): every <c>Grid:Promotion:CheckInterval</c> it runs the
/// promotion gate on each shadow of every model name with an alias whose <see cref="AliasTarget.AutoPromote"/> is set,
/// and moves the alias to a shadow that passes. Each silo asks it to check once an interval; the grain runs one check
/// per interval however many silos ask, so the policy acts in one place and goes on while any silo is up.
/// </summary>
public interface IAutoPromotionGrain : IGrainWithIntegerKey
{
    /// <summary>Runs the check unless one ran less than most of an interval ago.</summary>
    Task Check();

    /// <summary>How many checks ran in this activation, and when the last one did.</summary>
    Task<AutoPromotionStatus> GetStatus();
}

/// <summary>What the automatic promotion policy has done since its grain activated.</summary>
/// <param name="Checks">Checks run.</param>
/// <param name="LastCheckAt">When the last one ended (Unix ms; 0: none yet).</param>
/// <param name="Recorded">Decisions it recorded in the audit log (promotions and refusals).</param>
[GenerateSerializer, Immutable]
public sealed record AutoPromotionStatus([property: Id(0)] long Checks, [property: Id(1)] long LastCheckAt, [property: Id(2)] long Recorded);
