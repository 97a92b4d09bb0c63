namespace MarketIntel.Abstractions.Models;

/// <summary>
/// Everything the registry holds about one version besides its bytes: its description, the SHA-256 of its bytes,
/// when it was registered, its free tags (key to value, changed at will) and its lineage JSON exactly as it was
/// given (null until set; set once, like the bytes).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ModelVersionDetails(
    [property: Id(0)] ModelInfo Info,
    [property: Id(1)] string Sha256,
    [property: Id(2)] long CreatedAt,
    [property: Id(3)] IReadOnlyDictionary<string, string> Tags,
    [property: Id(4)] string? Lineage)
{
    /// <summary>Whether the version has a reference profile for drift (given on its own or inside its lineage).</summary>
    [Id(5)]
    public bool HasProfile { get; init; }
}

/// <summary>A model name as the registry holds it: its versions (in the order registered) and its deployment.</summary>
[GenerateSerializer, Immutable]
public sealed record ModelDetails(
    [property: Id(0)] string Name,
    [property: Id(1)] IReadOnlyList<ModelVersionDetails> Versions,
    [property: Id(2)] ModelDeployment Deployment);

/// <summary>
/// A registration: the version's bytes and, optionally, its lineage JSON, its first tags, and an alias to point at
/// it once it is registered. <see cref="Client"/> is who asked (an API key's name, a token's subject, or
/// <see cref="ModelAudit.LocalClient"/>), for the audit record.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ModelRegistration(
    [property: Id(0)] string Name,
    [property: Id(1)] string Version,
    [property: Id(2)] byte[] Bytes,
    [property: Id(3)] string? Lineage,
    [property: Id(4)] IReadOnlyDictionary<string, string>? Tags,
    [property: Id(5)] string? Alias,
    [property: Id(6)] string Client);

/// <summary>
/// One change of the registry, kept for ever: what was done (<see cref="Action"/>, one of <see cref="ModelAudit"/>'s
/// names) to which model name (and version, where one is meant), when (Unix ms), by which client, and the detail as
/// a JSON object (for a promotion decision: the decision with its statistics). <see cref="Sequence"/> is the record's
/// place in the registry's audit log (the store numbers records; 0 before).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ModelAuditRecord(
    [property: Id(0)] long Sequence,
    [property: Id(1)] string Name,
    [property: Id(2)] string Action,
    [property: Id(3)] string? Version,
    [property: Id(4)] long At,
    [property: Id(5)] string Client,
    [property: Id(6)] string Detail);

/// <summary>The actions an audit record names, and the client named where no key or token identifies one.</summary>
public static class ModelAudit
{
    /// <summary>The client of a grid that runs without API keys, and of changes the grid makes itself at start.</summary>
    public const string LocalClient = "local";

    public const string Register = "register";
    public const string Lineage = "lineage";
    public const string Profile = "profile";
    public const string Tags = "tags";
    public const string AliasSet = "alias-set";
    public const string AliasRemoved = "alias-removed";
    public const string Split = "split";
    public const string AutoPromote = "auto-promote";
    public const string ShadowAdded = "shadow-added";
    public const string ShadowRemoved = "shadow-removed";
    public const string Promoted = "promoted";
    public const string Rejected = "rejected";
}

/// <summary>
/// A change of the registry as the silos hear of it: its audit record (what, which model and version, when, who,
/// detail) and, for a change of how the model name is deployed, the deployment after it.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ModelEvent(
    [property: Id(0)] ModelAuditRecord Change,
    [property: Id(1)] ModelDeployment? Deployment);

/// <summary>
/// One per silo: hears every change of the registry. The registry awaits each silo's observer (for a bounded time)
/// before it answers a change, so a moved alias serves on every silo once the move is answered.
/// </summary>
public interface IModelEventObserver : IGrainObserver
{
    /// <summary>Applies a change on this silo; quick and never calling the registry back (the registry awaits it).</summary>
    Task OnModelEvent(ModelEvent change);
}
