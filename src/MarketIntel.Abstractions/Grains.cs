using MarketIntel.Abstractions.Models;
using Orleans.Concurrency;

namespace MarketIntel.Abstractions;

/// <summary>
/// One asset (key: the symbol). Holds the asset's streaming features, a bounded recent history, the latest
/// pushed feature vector and its model assignment, and predicts in process.
/// </summary>
public interface IAssetGrain : IGrainWithStringKey
{
    /// <summary>
    /// Adds bars in order. Each is validated; a bar at an already accepted timestamp is ignored (replay is
    /// idempotent); a rejected bar changes nothing. Returns the counts with a reason per rejection.
    /// </summary>
    Task<IngestResult> AddBars(IReadOnlyList<BarData> bars);

    /// <summary>Stores a ready feature vector for models whose inputs are computed elsewhere.</summary>
    Task PushFeatures(IReadOnlyList<float> values);

    /// <summary>The latest computed features.</summary>
    Task<FeatureSnapshot> GetFeatures();

    /// <summary>Predicts with the asset's model (or the default) from the latest features.</summary>
    Task<PredictionResult> Predict();

    /// <summary>Uses this model version for this asset from now on.</summary>
    Task AssignModel(ModelRef model);

    /// <summary>
    /// This asset's live outcome scores: a tally per version it scored and per (served, shadow) pair, the tallies
    /// stored by earlier activations included.
    /// </summary>
    Task<ModelScores> GetScores();

    /// <summary>
    /// Sends every new prediction of this asset (after each accepted bar or pushed vector) to the observer until
    /// it unsubscribes or stops renewing: a subscription lapses unless renewed within <paramref name="lease"/>.
    /// </summary>
    Task Subscribe(IPredictionObserver observer, TimeSpan lease);

    /// <summary>Stops sending predictions to the observer.</summary>
    Task Unsubscribe(IPredictionObserver observer);

    /// <summary>
    /// The asset's drift as its grain holds it now: its served version's inputs and prediction over the drift window
    /// against the version's reference profile, its bar quality, and its live scores against the validation metrics.
    /// </summary>
    Task<AssetDrift> GetDrift();

    /// <summary>
    /// The asset in one line for the web console: latest bar (Unix ms), the served version's prediction from the
    /// latest features, drifting or not. Unlike <see cref="GetFeatures"/> it answers an asset without bars too.
    /// </summary>
    Task<AssetSummary> GetSummary();

    /// <summary>
    /// The latest <paramref name="count"/> bars the grain's ring keeps (Grid:HistoryLength; fewer when it holds fewer),
    /// with the served version's prediction after each where it made one (see <see cref="AssetHistory"/>).
    /// </summary>
    Task<AssetHistory> GetHistory(int count);
}

/// <summary>Receives new predictions from asset grains (see <see cref="IAssetGrain.Subscribe"/>).</summary>
public interface IPredictionObserver : IGrainObserver
{
    /// <summary>New predictions of one asset, oldest first.</summary>
    [OneWay]
    Task OnPredictions(IReadOnlyList<PredictionResult> predictions);
}

/// <summary>The model registry (a single grain, key 0): model bytes by name and version, and the default model.</summary>
public interface IModelRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Registers a model's bytes (validated by loading them), with no lineage or tags, for the local client. Returns its description.</summary>
    Task<ModelInfo> Register(string name, string version, byte[] bytes);

    /// <summary>
    /// Registers a version with, optionally, its lineage (checked: <see cref="LineageCheck"/>), its first tags and
    /// an alias to point at it. Sent again with the same bytes it changes nothing but what it adds (a lineage the
    /// version lacked, tags, the alias).
    /// </summary>
    Task<ModelVersionDetails> Register(ModelRegistration registration);

    /// <summary>Sets a version's lineage; once set it cannot change (the same lineage again is a no-op).</summary>
    Task<ModelVersionDetails> SetLineage(ModelRef model, string lineage, string client);

    /// <summary>Sets tags of a version (adding or replacing values) and removes others (each must exist).</summary>
    Task<ModelVersionDetails> SetTags(ModelRef model, IReadOnlyDictionary<string, string> set, IReadOnlyList<string> remove, string client);

    /// <summary>Every model name with its versions (without bytes) and deployment, by name.</summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<ModelDetails>> ListModels();

    /// <summary>A model name with its versions (without bytes) and deployment; NOT_FOUND when it has no version.</summary>
    [AlwaysInterleave]
    Task<ModelDetails> GetModel(string name);

    /// <summary>A model name's last <paramref name="limit"/> audit records (1 to 10000), oldest first.</summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<ModelAuditRecord>> GetAudit(string name, int limit);

    /// <summary>
    /// Carries out a promotion gate's decision and records it (promoted or rejected, with its statistics) in the
    /// audit log. A passed decision moves the alias to the challenger (ending any split, and the challenger's
    /// shadowing) only while the alias still names the champion the gate judged; otherwise it is recorded as
    /// refused, since the gate judged another champion. Returns the decision as recorded.
    /// </summary>
    Task<PromotionDecision> RecordDecision(PromotionDecision decision, string client);

    /// <summary>The registered bytes of a version.</summary>
    /// <remarks>Reads interleave with a registration that is validating its model, so they do not wait for it.</remarks>
    [AlwaysInterleave]
    Task<byte[]> GetBytes(ModelRef model);

    /// <summary>A registered version's description.</summary>
    [AlwaysInterleave]
    Task<ModelInfo> Describe(ModelRef model);

    /// <summary>
    /// A registered version's reference profile for drift (JSON, as MarketIntel.Training.Drift.ReferenceProfile writes
    /// it): the one given to it with <see cref="SetProfile"/>, else the one its lineage carries (key <c>profile</c>),
    /// or null when it has none: versions without one report "no reference".
    /// </summary>
    [AlwaysInterleave]
    Task<string?> GetProfile(ModelRef model);

    /// <summary>
    /// Gives a version its reference profile (JSON, as MarketIntel.Training.Drift.ReferenceProfile writes it), once:
    /// checked to be a profile whose features are the model's own, in order (INVALID_ARGUMENT naming the first
    /// difference); the same profile again is a no-op, another one FAILED_PRECONDITION (also when its lineage carries
    /// a different one). Audited as <see cref="ModelAudit.Profile"/>.
    /// </summary>
    Task<ModelVersionDetails> SetProfile(ModelRef model, string profile, string client);

    /// <summary>Makes a registered version the default for assets with no assignment.</summary>
    Task SetDefault(ModelRef model);

    /// <summary>The default model, or null when none is set.</summary>
    [AlwaysInterleave]
    Task<ModelRef?> GetDefault();

    /// <summary>A model name's deployment (aliases, splits, shadows); an empty one for a name that has none.</summary>
    [AlwaysInterleave]
    Task<ModelDeployment> GetDeployment(string name);

    /// <summary>
    /// Points <paramref name="alias"/> of model <paramref name="name"/> at its registered <paramref name="version"/>
    /// (moving it, and ending any split of it). <paramref name="client"/> (here and below) is who asked, an API key's
    /// id or a token's subject, for the audit record.
    /// </summary>
    Task<ModelDeployment> SetAlias(string name, string alias, string version, string client);

    /// <summary>Removes an alias of a model; assets assigned to it then have no model until it is set again.</summary>
    Task<ModelDeployment> RemoveAlias(string name, string alias, string client);

    /// <summary>Splits the assets of an alias between its version and <paramref name="split"/>'s (null: ends the split).</summary>
    Task<ModelDeployment> SetSplit(string name, string alias, ArmSplit? split, string client);

    /// <summary>
    /// Subscribes a silo's observer to every change for <paramref name="lease"/>; a silo renews its subscription well
    /// within the lease, so one that went away lapses, and a new activation of the registry has every silo back
    /// within a renewal.
    /// </summary>
    [AlwaysInterleave]
    Task Subscribe(IModelEventObserver observer, TimeSpan lease);

    /// <summary>Ends a silo's subscription (when the silo stops).</summary>
    [AlwaysInterleave]
    Task Unsubscribe(IModelEventObserver observer);

    /// <summary>
    /// Tells every subscribed silo's listeners (the API's model event streams) of something that is not a change of the
    /// registry: an asset starting or stopping to drift (<see cref="DriftEvents"/>), a retraining job's new state or
    /// progress (<see cref="RetrainEvents"/>). Not stored: the audit log keeps changes of the registry, not the state of
    /// assets or jobs.
    /// </summary>
    [AlwaysInterleave, OneWay]
    Task PublishNotice(ModelAuditRecord change);

    /// <summary>Sets whether a challenger that passes the promotion gate moves <paramref name="alias"/> without a person asking.</summary>
    Task<ModelDeployment> SetAutoPromote(string name, string alias, bool autoPromote, string client);

    /// <summary>Makes a registered version a shadow of its model name (predicting and scored beside the served version), or stops it being one.</summary>
    Task<ModelDeployment> SetShadow(ModelRef version, bool shadow, string client);
}
