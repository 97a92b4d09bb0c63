using System.Diagnostics;
using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Series;
using MarketIntel.Grains.Drift;
using MarketIntel.Grains.Retraining.Triggers;
using MarketIntel.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Utilities;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// One asset. The grain orchestrates its components and ties them to Orleans and storage: the
/// <see cref="AssetSeries"/> (streaming features, recent history, spec growth, replay), <see cref="BarIntake"/>
/// (which bars of a call are accepted), the <see cref="ModelBinding"/> (a model's inputs) and the
/// <see cref="AssetPublisher"/> (local read path, cache, subscribers), and it predicts in process with the silo's
/// shared copy of the model. Accepted bars go to the <see cref="IBarArchive"/> before they are applied or
/// acknowledged; what the archive cannot rebuild (assignment, pushed vector, extra features) is grain state. On
/// embedded defaults both live in memory; in cluster mode in PostgreSQL, and an activation replays the archive to
/// rebuild its features exactly. After each bar it predicts with the served version and its shadows (the
/// <see cref="ModelLineup"/>) and the <see cref="OutcomeScorer"/> scores the predictions whose horizon that bar
/// reached; its tallies go to the <see cref="IScoreStore"/> every Grid:Scoring:FlushInterval, off the bars' path
/// (AssetGrain.Scores.cs). The
/// <see cref="DriftTracker"/> counts the served version's inputs and prediction after each bar into its drift window
/// (the grain's drift side is in AssetGrain.Drift.cs).
/// </summary>
[Placement.ServingPlacement]
public sealed partial class AssetGrain : Grain, IAssetGrain
{
    private readonly string _asset;
    private readonly GridOptions _options;
    private readonly SiloModelCache _models;
    private readonly GridMetrics _metrics;
    private readonly FeatureSpecCache _specs;
    private readonly IPersistentState<AssetState> _state;
    private readonly IBarArchive _archive;
    private readonly AssetSeries _series;
    private readonly ModelBinding _binding;
    private readonly AssetPublisher _publisher;
    private readonly OutcomeScorer _scorer;
    private readonly IScoreStore _scores;
    private readonly DriftTracker _drift;
    private readonly IDriftStore _driftStore;
    private readonly PredictionRecorder _recorder;
    private readonly ILogger _log;
    private ModelLineup? _lineup;      // the versions predicting after each bar, as last worked out
    private bool _scoresLoaded;        // the stored tallies were added to the scorer's (until then nothing is stored)
    private Task? _flushing;           // the score write under way, if any: one at a time keeps them in order
    private IGrainTimer? _flushTimer;  // set once the asset scores anything
    private FeatureSet _storedSpec;    // the spec as grain state holds it: the series' runs ahead once a model adds features
    private bool _resync;              // a write failed: reload state and bars before the next change
    private long _writerEpoch;         // this activation's claim on the asset's archive (IBarArchive.Claim)
    private int _sinceCheckpoint;      // bars accepted since the last feature-state checkpoint
    private IGrainTimer? _emptyTimer;  // set while an unknown asset's empty activation waits to be let go

    public AssetGrain(
        [PersistentState("asset", GridStorage.Name)] IPersistentState<AssetState> state,
        IOptions<GridOptions> options, SiloModelCache models, GridMetrics metrics, FeatureSpecCache specs, LocalPredictor local,
        IBarArchive archive, IAssetCache cache, IScoreStore scores, DriftMetrics driftMetrics, IDriftStore driftStore,
        ILogger<ObserverManager<IPredictionObserver>> observerLog, ILogger<AssetGrain> log, IPredictionLog predictionLog,
        IRetrainTriggers retrainTriggers, IOptions<DriftTriggerOptions> driftTrigger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(specs);
        ArgumentNullException.ThrowIfNull(archive);
        _asset = this.GetPrimaryKeyString();
        _state = state;
        _options = options.Value;
        _models = models;
        _metrics = metrics;
        _specs = specs;
        _archive = archive;
        _storedSpec = specs.Get(_options.Features);
        _series = new AssetSeries(_storedSpec, _options.HistoryLength, archive.IsDurable, specs.Parser);
        _binding = new ModelBinding(_asset, _series);
        _publisher = new AssetPublisher(_asset, _series, local, cache, observerLog);
        _scorer = new OutcomeScorer(metrics);
        _scores = scores;
        _drift = new DriftTracker(_asset, _options.Drift, _options.Quality, driftMetrics);
        _driftStore = driftStore;
        _retrainTriggers = driftTrigger.Value.Drift ? retrainTriggers : null;
        _recorder = new PredictionRecorder(predictionLog);
        _log = log;
    }

    // Grain state is written where the grid has durable storage (cluster mode). On embedded defaults an asset
    // grain holding anything is never collected, so a copy in memory storage would only cost memory.
    // A write that fails puts the state back as it was (before), so memory never holds what storage does not.
    private async Task Persist(AssetState before)
    {
        if (!_archive.IsDurable)
        {
            return;
        }
        try
        {
            await _state.WriteStateAsync();
        }
        catch (Exception e) when (e is not Orleans.Storage.InconsistentStateException)
        {
            (_state.State.Assigned, _state.State.Pushed, _state.State.PushedAt, _state.State.Spec) = (before.Assigned, before.Pushed, before.PushedAt, before.Spec);
            throw Unavailable("the grain state could not be stored; the change may or may not have been kept: send it again", e);
        }
    }

    private AssetState Before() => new() { Assigned = Assigned, Pushed = Pushed, PushedAt = PushedAt, Spec = _state.State.Spec };

    private float[]? Pushed => _state.State.Pushed;

    private long PushedAt => _state.State.PushedAt;  // when Pushed arrived, Unix ms

    private ModelRef? Assigned => _state.State.Assigned;

    private bool HasBars => _series.HasBars;

    private bool IsEmpty => !HasBars && Pushed is null && Assigned is null && !_publisher.HasSubscribers;

    // A silo holds at most Grid:MaxActiveAssets assets: an asset about to get its first data beyond that is refused,
    // so that a client inventing symbols meets a clear error before the silo runs out of memory.
    private void RefuseIfNewAndFull()
    {
        if (!HasBars && Pushed is null && _metrics.ActiveAssets > _options.MaxActiveAssets)
        {
            throw new GridException(GridErrorKind.ResourceExhausted,
                $"{_asset}: this silo holds {_metrics.ActiveAssets} active assets, over the limit of {_options.MaxActiveAssets} (setting Grid:MaxActiveAssets); add silos or raise the limit");
        }
    }

    // Whether this activation is counted among the silo's assets with data (marketintel_active_assets): an unknown
    // asset looked up, or one that only has a model assigned, holds no data and is not.
    private bool _countedWithData;

    private void CountData()
    {
        bool holds = HasBars || Pushed is not null;
        if (holds != _countedWithData)
        {
            _countedWithData = holds;
            _metrics.HoldsData(_asset, holds);
        }
    }

    private void LetGoIfEmpty()
    {
        _emptyTimer?.Dispose();
        _emptyTimer = null;
        if (IsEmpty)
        {
            DeactivateOnIdle();
        }
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        LoadSpec();
        if (_archive.IsDurable)
        {
            try
            {
                // Claimed before the read: whatever an overlapping older activation stored is in what this one
                // replays, and from here on the archive refuses that activation's appends.
                _writerEpoch = await _archive.Claim(_asset);
                await Replay(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw GridException.Unavailable($"{_asset}: its bars could not be read from the archive", e);
            }
            ResumePending();
        }
        _publisher.Open();
        _metrics.Activated();
        CountData();
        if (_options.Scoring.Enabled)
        {
            await LoadScores();
        }
    }

    // The grid's spec as configured now, plus what models added for this asset (kept in its state).
    private void LoadSpec()
    {
        FeatureSet spec = _specs.Get(_options.Features);
        if (_state.State.Spec is { } stored)
        {
            var names = spec.Names.ToList();
            names.AddRange(stored.Split(',').Where(n => !names.Contains(n, StringComparer.Ordinal)));
            spec = _specs.Get(string.Join(',', names));
        }
        _series.Respecify(spec);
        _storedSpec = spec;
        _binding.Reset();  // a model's input indices are worked out again for this spec
        _lineup = null;    // and the lineup bound again
    }

    // After a failed write: state and bars as storage has them, before anything changes again.
    private async Task Resync()
    {
        if (!_resync)
        {
            return;
        }
        try
        {
            await _state.ReadStateAsync();
            LoadSpec();
            await Replay(CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Unavailable("storage cannot be read back after a failed write", e);
        }
        _publisher.Withdraw();
        CountData();
        _resync = false;
    }

    // Rebuilds the series from the archive: from the latest checkpoint and the bars after it where one fits the spec,
    // else from every archived bar. A read that fails leaves the series as it was.
    private async Task Replay(CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        int? count = null;
        // A replay due to a grown spec cannot use a checkpoint, which holds the features of the spec before it grew.
        if (!_series.ReplayNeeded && await _archive.ReadCheckpoint(_asset) is { } checkpoint)
        {
            count = await _series.ReplayAfter(checkpoint.State, after => _archive.Read(_asset, after, cancellationToken));
        }
        bool fromCheckpoint = count is not null;
        count ??= await _series.Replay(_archive.Read(_asset, cancellationToken: cancellationToken));
        _sinceCheckpoint = 0;
        if (_series.HasBars)
        {
            _metrics.Replayed(count.Value, Stopwatch.GetElapsedTime(started), fromCheckpoint);
            _publisher.Replayed();
        }
    }

    // Every Grid:CheckpointEveryBars accepted bars, the series' state goes to the archive, written off this turn: the
    // grain does not wait for it, and a failed write only means a longer replay next time.
    private void CheckpointIfDue(int accepted)
    {
        if (!_archive.IsDurable || _options.CheckpointEveryBars == 0 || (_sinceCheckpoint += accepted) < _options.CheckpointEveryBars)
        {
            return;
        }
        if (_series.Checkpoint() is not { } state)
        {
            return;  // a replay is due: the state does not describe the spec yet
        }
        _sinceCheckpoint = 0;
        (string asset, long epoch, long through, IBarArchive archive, GridMetrics metrics) = (_asset, _writerEpoch, _series.LastTimestamp, _archive, _metrics);
        _ = Task.Run(async () =>
        {
            try
            {
                await archive.SaveCheckpoint(asset, epoch, through, state);
                metrics.Checkpointed(saved: true);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                metrics.Checkpointed(saved: false);
            }
        });
    }

    // A dependency failed mid-call, and storage may now be ahead of this activation (a write can fail after its
    // commit). Reads keep being answered from memory; the next change first reloads state and bars (Resync).
    private GridException Unavailable(string what, Exception e)
    {
        _resync = true;
        return GridException.Unavailable($"{_asset}: {what}", e);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _publisher.Close();
        _metrics.Deactivated();
        if (_countedWithData)
        {
            _countedWithData = false;
            _metrics.HoldsData(_asset, false);
        }
        _flushTimer?.Dispose();
        if (_flushing is not null)
        {
            await _flushing;
        }
        if (_scoresLoaded && _scorer.Changed)
        {
            await SaveScores(_scorer.TakeChanges());
        }
        await SavePending(reason);
        await StopDrift();
    }

    public async Task<IngestResult> AddBars(IReadOnlyList<BarData> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        AssetSymbol.Validate(_asset);
        await Resync();
        // The versions are resolved once per batch so that the features they need are computed from the first bar on;
        // predictions after each bar are made for subscribers and, where scoring is on, for the scorer.
        ModelLineup? lineup = await TryResolveLineup();
        // Sorted against the state before the call plus the bars accepted earlier in it; nothing changes until
        // the archive has them.
        Intake intake = BarIntake.Sort(bars, _series, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _options.FutureTolerance);
        _drift.Rejected(intake.Kinds);
        if (intake.Accepted is { } accepted)
        {
            RefuseIfNewAndFull();
            await Archive(accepted);
            _publisher.Withdraw();
            bool observed = _publisher.ObserversWaiting();
            bool everyBar = lineup is not null && ((_options.Scoring.Enabled && (_scorer.Active || lineup.Models.Length > 1)) || _recorder.Enabled);
            bool served = observed || everyBar || _drift.Counting;
            _recorder.Begin(lineup, accepted.Count);
            List<PredictionResult>? predictions = null;
            if (lineup is null)
            {
                foreach (StoredBar bar in accepted)
                {
                    _series.Apply(bar);
                    ArriveAfter(bar);
                }
            }
            else
            {
                for (int start = 0; start < accepted.Count; start += BarPredictions.MaxBars)
                {
                    ApplyAndPredict(lineup, accepted, start, Math.Min(BarPredictions.MaxBars, accepted.Count - start), served, everyBar, observed, ref predictions);
                }
            }
            _scorer.PublishCounts();
            PredictionResult? latest = predictions is not null ? predictions[^1]
                : _publisher.CacheWaiting && lineup is not null ? TryPredict(lineup.Served, lineup.Loaded[0]) : null;
            _recorder.Complete(_asset);
            _publisher.BarsApplied(predictions, latest);
            _metrics.BarsArrived(_asset);
            CheckpointIfDue(accepted.Count);
        }
        CountData();
        _metrics.Ingested(intake.AcceptedCount, intake.Ignored, intake.Rejected);
        return intake.ToResult();
    }

    private async Task Archive(List<StoredBar> bars)
    {
        try
        {
            await _archive.Append(_asset, _writerEpoch, bars);
        }
        catch (StaleArchiveWriterException e)
        {
            // A newer activation of this asset exists (two overlapped during a membership change): this one must
            // not change anything more. It goes; the client's resend reaches the newer one.
            DeactivateOnIdle();
            throw GridException.Unavailable($"{_asset}: this activation was replaced by a newer one; the call's bars were not applied: resend them", e);
        }
        catch (Exception e) when (e is not GridException and not OperationCanceledException)
        {
            // Nothing was applied here, but the write may have committed before it failed: resending is safe either way.
            throw Unavailable("the bar archive failed; this call's bars were not applied and may or may not be stored: resend them", e);
        }
    }

    public async Task PushFeatures(IReadOnlyList<float> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        AssetSymbol.Validate(_asset);
        if (values.Count == 0)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"{_asset}: a pushed feature vector must not be empty");
        }
        if (values.Count > _options.MaxFeatureVectorLength)
        {
            throw new GridException(GridErrorKind.ResourceExhausted,
                $"{_asset}: a pushed feature vector of {values.Count} values is over the limit of {_options.MaxFeatureVectorLength} (setting Grid:MaxFeatureVectorLength)");
        }
        for (int i = 0; i < values.Count; i++)
        {
            // NaN is a missing value, which models send to the default child; an infinity is nobody's feature.
            if (float.IsInfinity(values[i]))
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"{_asset}: values[{i}] is {values[i].ToString(CultureInfo.InvariantCulture)}; features must be finite (NaN for missing)");
            }
        }
        await Resync();
        RefuseIfNewAndFull();
        AssetState before = Before();
        _state.State.Pushed = values.ToArray();
        _state.State.PushedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Persist(before);
        _publisher.Withdraw();
        CountData();
        if (_publisher.ObserversWaiting() || _publisher.CacheWaiting)
        {
            ModelLineup? lineup = await TryResolveLineup();
            _publisher.Pushed(lineup is not null ? TryPredict(lineup.Served, lineup.Loaded[0]) : null);
        }
    }

    public Task<FeatureSnapshot> GetFeatures()
    {
        if (!HasBars)
        {
            throw Unknown("has no bars");
        }
        return Task.FromResult(_publisher.Features());
    }

    public async Task AssignModel(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        AssetSymbol.Validate(_asset);
        await Resync();
        // An alias must be set to be assigned; the version it names now is loaded and bound, so that the features
        // it needs are computed from here on.
        Model loaded = await _models.Get((await _models.Resolve(model, _asset)).Served.Model);
        _binding.Bind(loaded);
        await CatchUp();
        _publisher.Withdraw();
        if (!model.Equals(_state.State.Assigned))
        {
            AssetState before = Before();
            _state.State.Assigned = model;
            await Persist(before);
        }
    }

    // After the spec grew: computes the new features from the archive where there is one (exact from the first
    // bar), and persists the spec so that later activations compute the same features.
    private async Task CatchUp()
    {
        if (_series.ReplayNeeded)
        {
            try
            {
                await Replay(CancellationToken.None);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Unavailable("its bars could not be read from the archive to compute a model's new features", e);
            }
        }
        if (ReferenceEquals(_series.Spec, _storedSpec))
        {
            return;
        }
        // Interned: every asset that a model extended the same way shares one copy of the spec.
        string? spec = _series.Spec.Names.SequenceEqual(_specs.Get(_options.Features).Names) ? null : string.Intern(string.Join(',', _series.Spec.Names));
        if (spec != _state.State.Spec)
        {
            AssetState before = Before();
            _state.State.Spec = spec;
            await Persist(before);
        }
        _storedSpec = _series.Spec;  // only once stored: a failed write is tried again on the next call
    }

    public async Task<PredictionResult> Predict()
    {
        if (!HasBars && Pushed is null && Assigned is null)
        {
            throw Unknown("has no bars, no pushed features and no assigned model");
        }
        ModelRef target = Assigned
            ?? await _models.GetDefault()
            ?? throw new GridException(GridErrorKind.FailedPrecondition, $"{_asset}: no model assigned and no default model registered");
        var (served, routing) = await _models.Resolve(target, _asset);
        ModelRef model = served.Model;
        Model loaded = await _models.Get(model);
        _binding.Bind(loaded);
        await CatchUp();
        var inputs = new float[loaded.FeatureCount];
        if (!_binding.TryFill(loaded, Pushed, inputs))
        {
            throw new GridException(GridErrorKind.FailedPrecondition, _binding.WhyNot(model, loaded, Pushed));
        }
        PredictionResult result = Run(model, loaded, inputs);
        // Nothing writes to inputs after this: later requests on this silo may predict from it directly.
        _publisher.Offer(new PredictionSnapshot(Assigned, target, routing?.Epoch, model, loaded, inputs, result.AsOf));
        return result;
    }

    public Task<ModelScores> GetScores() => Task.FromResult(_scorer.Snapshot());

    public Task Subscribe(IPredictionObserver observer, TimeSpan lease)
    {
        ArgumentNullException.ThrowIfNull(observer);
        AssetSymbol.Validate(_asset);
        // Subscriptions live in this activation only: a new one starts with none, and its subscribers would hear nothing
        // until they renew. So the activation is not collected (cluster mode collects idle assets) until the latest lease
        // given ends or the last subscriber leaves.
        DelayDeactivation(_publisher.Subscribe(observer, lease));
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IPredictionObserver observer)
    {
        if (!_publisher.Unsubscribe(observer))
        {
            DelayDeactivation(TimeSpan.Zero);  // no subscription holds the activation any more: collected as usual
        }
        return Task.CompletedTask;
    }

    // The versions predicting after bars, or null when the asset has no model (no assignment, no default, or a
    // served version that cannot be loaded): subscribers then get nothing rather than ingestion failing. Shadows
    // join only where scoring is on. Worked out again only when the served version or the deployment changed.
    private async Task<ModelLineup?> TryResolveLineup()
    {
        try
        {
            ModelRef? target = Assigned ?? await _models.GetDefault();
            if (target is null)
            {
                await TrackDrift(null);
                return null;
            }
            var (served, routing) = await _models.Resolve(target, _asset);
            Model loaded = await _models.Get(served.Model);
            ModelDeployment? deployment = _options.Scoring.Enabled ? routing ?? await _models.Deployment(served.Model.Name) : null;
            if (_lineup is null || !_lineup.Matches(served.Model, loaded, deployment))
            {
                _lineup = await NewLineup(served.Model, loaded, deployment);
            }
            await CatchUp();
            await TrackDrift(_lineup);
            return _lineup;
        }
        catch (GridException e) when (e.Kind != GridErrorKind.Unavailable)
        {
            await TrackDrift(null);
            return null;
        }
    }

    // Loads and binds the served version and each shadow, and sizes the scorer for them. A shadow that cannot be
    // loaded or described is left out of this lineup (marked incomplete, so the next batch tries again): a shadow
    // never stops the served version.
    private async Task<ModelLineup> NewLineup(ModelRef served, Model loaded, ModelDeployment? deployment)
    {
        var models = new List<ModelRef> { served };
        var loadedModels = new List<Model> { loaded };
        var scored = new List<ScoredVersion?>();
        bool complete = true;
        try
        {
            scored.Add(await ScoredVersionOf(served, loaded));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            scored.Add(null);
            complete = false;
        }
        foreach (string version in deployment?.Shadows ?? [])
        {
            var shadow = new ModelRef(served.Name, version);
            if (shadow.Equals(served))
            {
                continue;
            }
            try
            {
                Model shadowLoaded = await _models.Get(shadow);
                scored.Add(await ScoredVersionOf(shadow, shadowLoaded));
                models.Add(shadow);
                loadedModels.Add(shadowLoaded);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                complete = false;
            }
        }
        _binding.Keep(loadedModels);
        foreach (Model model in loadedModels)
        {
            _binding.Bind(model);
        }
        _scorer.Configure(scored);
        if (_scorer.Active && _flushTimer is null)
        {
            _flushTimer = this.RegisterGrainTimer(static grain =>
            {
                grain.FlushScores();
                return Task.CompletedTask;
            }, this, _options.Scoring.FlushInterval, _options.Scoring.FlushInterval);
        }
        return new ModelLineup([.. models], [.. loadedModels], deployment, complete);
    }

    // The version as the scorer scores it, or null when it is not scored: scoring is off, its lineage names no label
    // (or a horizon over Grid:Scoring:MaxHorizon), or it has other than one output to score.
    private async Task<ScoredVersion?> ScoredVersionOf(ModelRef model, Model loaded)
    {
        if (!_options.Scoring.Enabled || loaded.OutputCount != 1)
        {
            return null;
        }
        ModelInfo info = await _models.Describe(model);
        return LabelDefinition.TryParse(info.Label, out LabelDefinition label) && label.Horizon <= _options.Scoring.MaxHorizon
            ? new ScoredVersion(model, label) : null;
    }

    // The prediction from the latest features, or null when the model's inputs are not available yet.
    private PredictionResult? TryPredict(ModelRef model, Model loaded)
    {
        Span<float> inputs = loaded.FeatureCount <= 256 ? stackalloc float[loaded.FeatureCount] : new float[loaded.FeatureCount];
        return _binding.TryFill(loaded, Pushed, inputs) ? Run(model, loaded, inputs) : null;
    }

    // Bars [start, start + count) of a call: applied first, each predicting version's inputs kept after each bar; then
    // each version predicts all its rows in one batch; then the bars are walked again, in order, to score, record and
    // publish.
    private void ApplyAndPredict(ModelLineup lineup, List<StoredBar> bars, int start, int count, bool served, bool shadows, bool observed,
        ref List<PredictionResult>? predictions)
    {
        using var made = new BarPredictions(lineup, count, served, shadows, _binding);
        for (int b = 0; b < count; b++)
        {
            _series.Apply(bars[start + b]);
            for (int p = 0; p < lineup.Models.Length; p++)
            {
                made.Fill(p, b, _binding, Pushed);
            }
        }
        made.Run(_metrics);
        for (int b = 0; b < count; b++)
        {
            StoredBar bar = bars[start + b];
            ArriveAfter(bar);
            if (made.Has(0))
            {
                Served(lineup, made, b, bar.Timestamp, observed, ref predictions);
                // Every bar of this batch is applied already: bar b is count - 1 - b bars before the latest.
                _series.NotePrediction(count - 1 - b, made.Output(0, b)[0]);
            }
            for (int p = 1; p < lineup.Models.Length; p++)
            {
                if (made.Has(p))
                {
                    Record(p, made.Output(p, b)[0]);
                }
            }
        }
    }

    // What follows a bar besides predictions, in bar order: the scorer scores what it was waiting for, the drift tracker
    // and the prediction log note the bar. (Applying the bar to the series happened before, with every bar of the call.)
    private void ArriveAfter(StoredBar bar)
    {
        _scorer.BarArrived(bar.Timestamp, bar.Bar.Close);
        _drift.BarArrived(bar.Timestamp, bar.Bar.Close);
        _recorder.Bar(bar.Timestamp);
    }

    // The served version's prediction after bar b (of the call's accepted bars): published to observers (where they wait), recorded for the scorer,
    // and counted with its inputs in the drift window.
    private void Served(ModelLineup lineup, BarPredictions made, int b, long timestamp, bool observed, ref List<PredictionResult>? predictions)
    {
        ReadOnlySpan<float> output = made.Output(0, b);
        if (observed)
        {
            // Computed features are as of the bar they were computed after (the series has moved on since); a pushed
            // vector as of its push.
            long asOf = _binding.FromSeries(lineup.Loaded[0]) ? timestamp : PushedAt;
            (predictions ??= []).Add(new PredictionResult(_asset, output.ToArray(), lineup.Served, asOf));
        }
        Record(0, output[0]);
        if (_drift.Counting)
        {
            Announce(_drift.Observe(made.Inputs(0, b), output[0]));
        }
    }

    // A prediction made on a bar, for the scorer and the prediction log.
    private void Record(int position, float value)
    {
        _scorer.Record(position, value);
        _recorder.Record(position, value);
    }

    private PredictionResult Run(ModelRef model, Model loaded, ReadOnlySpan<float> inputs) =>
        ModelRun.Predict(_asset, model, loaded, inputs, _binding.AsOf(loaded, PushedAt), _metrics);

    // An asset the grid knows nothing about: reported as not found. Its empty activation is let go a while later, so
    // junk symbols cost no memory for long. Not at once: requests queued behind the answer would each reactivate
    // the grain, and under a burst for one unknown symbol Orleans rejects calls forwarded to an activation going away.
    private GridException Unknown(string what)
    {
        if (IsEmpty && _emptyTimer is null)
        {
            _emptyTimer = this.RegisterGrainTimer(static grain =>
            {
                grain.LetGoIfEmpty();
                return Task.CompletedTask;
            }, this, _options.UnknownAssetLinger, Timeout.InfiniteTimeSpan);
        }
        return new GridException(GridErrorKind.NotFound, $"asset {_asset} {what}");
    }
}
