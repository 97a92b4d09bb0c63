using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Features;
using MarketIntel.Inference;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains;

/// <summary>
/// One asset: validates each bar, updates the streaming features in O(1), keeps a bounded history, and
/// predicts in process with the silo's shared copy of its model, on demand and, for subscribers, after every
/// accepted bar. Accepted bars go to the <see cref="IBarArchive"/> before they are applied or acknowledged; what
/// the archive cannot rebuild (assignment, pushed vector, extra features) is grain state. On embedded defaults
/// both live in memory; in cluster mode in PostgreSQL, and an activation replays the archive to rebuild its
/// features exactly.
/// </summary>
public sealed class AssetGrain : Grain, IAssetGrain
{
    private readonly GridOptions _options;
    private readonly SiloModelCache _models;
    private readonly GridMetrics _metrics;
    private readonly FeatureSpecCache _specs;
    private readonly LocalPredictor _local;
    private readonly IPersistentState<AssetState> _state;
    private readonly IBarArchive _archive;
    private readonly IAssetCache _cache;
    private PredictionSlot? _slot;
    private StoredBar[]? _history;  // allocated with the first bar: an asset fed only pushed vectors needs none
    private int _historyCount;
    private int _historyNext;
    private FeatureSet _spec;
    private FeatureSet _streamSpec; // what _stream and _values were built for: _spec runs ahead until a replay catches up
    private StreamingFeatureSet? _stream;
    private double[] _values = [];
    private long _lastTimestamp = long.MinValue;
    private bool _replayNeeded;    // the spec grew while bars are archived: rebuild the streams from the archive
    private bool _specChanged;     // the spec grew: persist it
    private bool _resync;          // a write failed: reload state and bars before the next change
    private Model? _inputsModel;   // the model _inputs was worked out for
    private int[]? _inputs;        // its inputs' indices into the computed features; null: the pushed vector
    private List<Subscription>? _subscribers;
    private IGrainTimer? _emptyTimer;  // set while an unknown asset's empty activation waits to be let go

    public AssetGrain(
        [PersistentState("asset", GridStorage.Name)] IPersistentState<AssetState> state,
        IOptions<GridOptions> options, SiloModelCache models, GridMetrics metrics, FeatureSpecCache specs, LocalPredictor local,
        IBarArchive archive, IAssetCache cache)
    {
        ArgumentNullException.ThrowIfNull(options);
        _state = state;
        _options = options.Value;
        _models = models;
        _metrics = metrics;
        _specs = specs;
        _local = local;
        _archive = archive;
        _cache = cache;
        _spec = specs.Get(_options.Features);
        _streamSpec = _spec;
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

    private string Asset => this.GetPrimaryKeyString();

    private bool HasBars => _lastTimestamp != long.MinValue;

    private bool IsEmpty => !HasBars && Pushed is null && Assigned is null && _subscribers is null;

    // A silo holds at most Grid:MaxActiveAssets assets: an asset about to get its first data beyond that is refused,
    // so that a client inventing symbols meets a clear error before the silo runs out of memory.
    private void RefuseIfNewAndFull()
    {
        if (!HasBars && Pushed is null && _metrics.ActiveAssets > _options.MaxActiveAssets)
        {
            throw new GridException(GridErrorKind.ResourceExhausted,
                $"{Asset}: this silo holds {_metrics.ActiveAssets} active assets, over the limit of {_options.MaxActiveAssets} (setting Grid:MaxActiveAssets); add silos or raise the limit");
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
                await Replay(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw GridException.Unavailable($"{Asset}: its bars could not be read from the archive", e);
            }
        }
        _slot = _local.Register(Asset);
        _metrics.Activated();
    }

    // The grid's spec as configured now, plus what models added for this asset (kept in its state).
    private void LoadSpec()
    {
        _spec = _specs.Get(_options.Features);
        if (_state.State.Spec is { } stored)
        {
            var names = _spec.Names.ToList();
            names.AddRange(stored.Split(',').Where(n => !names.Contains(n, StringComparer.Ordinal)));
            _spec = _specs.Get(string.Join(',', names));
        }
        _inputsModel = null;  // a model's input indices are worked out again for this spec
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
        _slot?.Withdraw();
        _resync = false;
    }

    // Rebuilds the streams, the history and the last timestamp from every archived bar: the same bars in the same
    // order give the same features as the uninterrupted run. A read that fails puts back what the grain had.
    private async Task Replay(CancellationToken cancellationToken)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var saved = (_streamSpec, _stream, _values, _history, _historyCount, _historyNext, _lastTimestamp);
        // As before the first bar: no stream yet (Apply starts one with the spec as it is then), values undefined.
        StartStream();
        (_stream, _history, _historyCount, _historyNext, _lastTimestamp) = (null, null, 0, 0, long.MinValue);
        int count = 0;
        try
        {
            await foreach (StoredBar bar in _archive.Read(Asset, cancellationToken))
            {
                Apply(bar);
                count++;
            }
        }
        catch
        {
            (_streamSpec, _stream, _values, _history, _historyCount, _historyNext, _lastTimestamp) = saved;
            throw;
        }
        _replayNeeded = false;
        if (count > 0)
        {
            _metrics.Replayed(count, System.Diagnostics.Stopwatch.GetElapsedTime(started));
            if (_cache is not NoAssetCache)
            {
                // The silo that last held the asset may have died before writing its latest values to the cache.
                _cache.Publish(new FeatureSnapshot(Asset, _lastTimestamp, _streamSpec.Names.ToArray(), _values.ToArray()), null);
            }
        }
    }

    // A dependency failed mid-call, and storage may now be ahead of this activation (a write can fail after its
    // commit). Reads keep being answered from memory; the next change first reloads state and bars (Resync).
    private GridException Unavailable(string what, Exception e)
    {
        _resync = true;
        return GridException.Unavailable($"{Asset}: {what}", e);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_slot is not null)
        {
            _slot.Withdraw();
            _local.Unregister(Asset, _slot);
        }
        _metrics.Deactivated();
        return Task.CompletedTask;
    }

    public async Task<IngestResult> AddBars(IReadOnlyList<BarData> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        AssetSymbol.Validate(Asset);
        await Resync();
        // The model is resolved once per batch so that the features it needs are computed from the first bar on;
        // predictions after each bar are made only for subscribers.
        (ModelRef Ref, Model Loaded)? model = await TryResolveModel();
        // Validated against the state before the call plus the bars accepted earlier in it; nothing changes until
        // the archive has them.
        List<StoredBar>? accepted = null;
        long last = _lastTimestamp;
        int ignored = 0;
        var reasons = new List<string>();
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (BarData bar in bars)
        {
            if (bar is null)
            {
                reasons.Add("a bar is missing (null)");
                continue;
            }
            // A time far in the future would make every real bar after it "already seen"; checked before that test.
            if (BarRules.CheckTimestamp(bar.Timestamp, now, _options.FutureTolerance) is { } badTime)
            {
                reasons.Add($"{Describe(bar)}: {badTime}");
                continue;
            }
            if (bar.Timestamp <= last)
            {
                if (bar.Timestamp < last && IsUnknownRecent(bar.Timestamp, accepted))
                {
                    reasons.Add($"{Describe(bar)}: timestamp is before the last accepted bar ({last}) and was never accepted");
                }
                else
                {
                    ignored++;
                }
                continue;
            }
            string? problem = Validate(bar);
            if (problem is not null)
            {
                reasons.Add($"{Describe(bar)}: {problem}");
                continue;
            }
            (accepted ??= []).Add(new StoredBar(bar.Timestamp, new Bar(bar.Open, bar.High, bar.Low, bar.Close, bar.Volume)));
            last = bar.Timestamp;
        }
        if (accepted is not null)
        {
            RefuseIfNewAndFull();
            await Archive(accepted);
            _slot?.Withdraw();
            bool publish = HasSubscribers();
            List<PredictionResult>? predictions = null;
            foreach (StoredBar bar in accepted)
            {
                Apply(bar);
                if (publish && model is { } m && TryPredict(m.Ref, m.Loaded) is { } prediction)
                {
                    (predictions ??= []).Add(prediction);
                }
            }
            if (predictions is not null)
            {
                Publish(predictions);
            }
            PublishToCache(model, predictions is null ? null : predictions[^1]);
        }
        _metrics.Ingested(accepted?.Count ?? 0, ignored, reasons.Count);
        return new IngestResult(accepted?.Count ?? 0, ignored, reasons.Count, reasons);
    }

    private async Task Archive(List<StoredBar> bars)
    {
        try
        {
            await _archive.Append(Asset, bars);
        }
        catch (Exception e) when (e is not GridException and not OperationCanceledException)
        {
            // Nothing was applied here, but the write may have committed before it failed: resending is safe either way.
            throw Unavailable("the bar archive failed; this call's bars were not applied and may or may not be stored: resend them", e);
        }
    }

    // The latest features and prediction for readers outside the grid; skipped entirely when there is no cache.
    private void PublishToCache((ModelRef Ref, Model Loaded)? model, PredictionResult? prediction)
    {
        if (_cache is NoAssetCache)
        {
            return;
        }
        if (prediction is null && model is { } m)
        {
            prediction = TryPredict(m.Ref, m.Loaded);
        }
        FeatureSnapshot? features = HasBars ? new FeatureSnapshot(Asset, _lastTimestamp, _streamSpec.Names.ToArray(), _values.ToArray()) : null;
        _cache.Publish(features, prediction);
    }

    // A timestamp older than the last accepted one is a replayed duplicate when the history holds it, or when
    // it is older than everything the history still holds (it cannot be checked there, and a replay starts from
    // the beginning); otherwise it would be a new bar out of order.
    private bool IsUnknownRecent(long timestamp, List<StoredBar>? pending)
    {
        // pending is ascending: a binary search keeps a large call that repeats its own bars linear-logarithmic.
        if (pending is not null && pending.BinarySearch(new StoredBar(timestamp, default), TimestampOrder.Instance) >= 0)
        {
            return false;
        }
        if (_history is null || _historyCount == 0 || timestamp < Oldest().Timestamp)
        {
            return pending is not null && timestamp >= pending[0].Timestamp;
        }
        for (int i = 0; i < _historyCount; i++)
        {
            if (_history[i].Timestamp == timestamp)
            {
                return false;
            }
        }
        return true;
    }

    private StoredBar Oldest() => _history![_historyCount < _history.Length ? 0 : _historyNext];

    private static string Describe(BarData bar) => $"bar at {bar.Timestamp.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Why a bar is invalid, or null when it is fine: the rule the CSV reader applies too.</summary>
    internal static string? Validate(BarData bar) =>
        BarRules.Check(bar.Open, bar.High, bar.Low, bar.Close, bar.Volume)?.Message;

    private void Apply(StoredBar bar)
    {
        if (_stream is null)
        {
            StartStream();
        }
        _history ??= new StoredBar[_options.HistoryLength];
        _stream!.Update(bar.Bar, _values);
        _lastTimestamp = bar.Timestamp;
        _history[_historyNext] = bar;
        _historyNext = (_historyNext + 1) % _history.Length;
        _historyCount = Math.Min(_historyCount + 1, _history.Length);
    }

    public async Task PushFeatures(IReadOnlyList<float> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        AssetSymbol.Validate(Asset);
        if (values.Count == 0)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"{Asset}: a pushed feature vector must not be empty");
        }
        if (values.Count > _options.MaxFeatureVectorLength)
        {
            throw new GridException(GridErrorKind.ResourceExhausted,
                $"{Asset}: a pushed feature vector of {values.Count} values is over the limit of {_options.MaxFeatureVectorLength} (setting Grid:MaxFeatureVectorLength)");
        }
        for (int i = 0; i < values.Count; i++)
        {
            // NaN is a missing value, which models send to the default child; an infinity is nobody's feature.
            if (float.IsInfinity(values[i]))
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"{Asset}: values[{i}] is {values[i].ToString(CultureInfo.InvariantCulture)}; features must be finite (NaN for missing)");
            }
        }
        await Resync();
        RefuseIfNewAndFull();
        AssetState before = Before();
        _state.State.Pushed = values.ToArray();
        _state.State.PushedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Persist(before);
        _slot?.Withdraw();
        bool publish = HasSubscribers();
        if (publish || _cache is not NoAssetCache)
        {
            var model = await TryResolveModel();
            PredictionResult? prediction = model is { } m ? TryPredict(m.Ref, m.Loaded) : null;
            if (publish && prediction is not null)
            {
                Publish([prediction]);
            }
            if (_cache is not NoAssetCache)
            {
                _cache.Publish(null, prediction);
            }
        }
    }

    public Task<FeatureSnapshot> GetFeatures()
    {
        if (!HasBars)
        {
            throw Unknown("has no bars");
        }
        return Task.FromResult(new FeatureSnapshot(Asset, _lastTimestamp, _streamSpec.Names.ToArray(), _values.ToArray()));
    }

    public async Task AssignModel(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        AssetSymbol.Validate(Asset);
        await Resync();
        Model loaded = await _models.Get(model);
        Inputs(loaded);
        await CatchUp();
        _slot?.Withdraw();
        if (!model.Equals(_state.State.Assigned))
        {
            AssetState before = Before();
            _state.State.Assigned = model;
            await Persist(before);
        }
    }

    // After the spec grew: rebuilds the streams from the archive where there is one (exact from the first bar),
    // and persists the spec so that later activations compute the same features.
    private async Task CatchUp()
    {
        if (!_specChanged)
        {
            return;
        }
        if (_replayNeeded)
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
        // Interned: every asset that a model extended the same way shares one copy of the spec.
        string? spec = _spec.Names.SequenceEqual(_specs.Get(_options.Features).Names) ? null : string.Intern(string.Join(',', _spec.Names));
        if (spec != _state.State.Spec)
        {
            AssetState before = Before();
            _state.State.Spec = spec;
            await Persist(before);
        }
        _specChanged = false;  // only once stored: a failed write is tried again on the next call
    }

    public async Task<PredictionResult> Predict()
    {
        if (!HasBars && Pushed is null && Assigned is null)
        {
            throw Unknown("has no bars, no pushed features and no assigned model");
        }
        ModelRef model = Assigned
            ?? await _models.GetDefault()
            ?? throw new GridException(GridErrorKind.FailedPrecondition, $"{Asset}: no model assigned and no default model registered");
        Model loaded = await _models.Get(model);
        Inputs(loaded);
        await CatchUp();
        var inputs = new float[loaded.FeatureCount];
        if (MissingInputs(model, loaded, inputs) is { } problem)
        {
            throw new GridException(GridErrorKind.FailedPrecondition, problem);
        }
        PredictionResult result = Run(model, loaded, inputs);
        // Nothing writes to inputs after this: later requests on this silo may predict from it directly.
        _slot?.Publish(new PredictionSnapshot(Assigned, model, loaded, inputs, result.AsOf));
        return result;
    }

    public Task Subscribe(IPredictionObserver observer, TimeSpan lease)
    {
        ArgumentNullException.ThrowIfNull(observer);
        AssetSymbol.Validate(Asset);
        _subscribers ??= [];
        _subscribers.RemoveAll(s => s.Observer.Equals(observer));
        _subscribers.Add(new Subscription(observer, Environment.TickCount64 + (long)lease.TotalMilliseconds));
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IPredictionObserver observer)
    {
        _subscribers?.RemoveAll(s => s.Observer.Equals(observer));
        return Task.CompletedTask;
    }

    private bool HasSubscribers()
    {
        if (_subscribers is null)
        {
            return false;
        }
        long now = Environment.TickCount64;
        _subscribers.RemoveAll(s => s.ExpiresAt < now);
        if (_subscribers.Count == 0)
        {
            _subscribers = null;
            return false;
        }
        return true;
    }

    private void Publish(IReadOnlyList<PredictionResult> predictions)
    {
        foreach (Subscription s in _subscribers!)
        {
            // One-way: a slow or vanished subscriber does not hold up ingestion; its lease lapses instead.
            _ = s.Observer.OnPredictions(predictions);
        }
    }

    // The model predictions after bars use, or null when the asset has none (no assignment, no default, or a
    // model that cannot be loaded): subscribers then get nothing rather than ingestion failing.
    private async Task<(ModelRef Ref, Model Loaded)?> TryResolveModel()
    {
        try
        {
            ModelRef? model = Assigned ?? await _models.GetDefault();
            if (model is null)
            {
                return null;
            }
            Model loaded = await _models.Get(model);
            Inputs(loaded);
            await CatchUp();
            return (model, loaded);
        }
        catch (GridException e) when (e.Kind != GridErrorKind.Unavailable)
        {
            return null;
        }
    }

    // The prediction from the latest features, or null when the model's inputs are not available yet.
    private PredictionResult? TryPredict(ModelRef model, Model loaded)
    {
        Span<float> inputs = loaded.FeatureCount <= 256 ? stackalloc float[loaded.FeatureCount] : new float[loaded.FeatureCount];
        return MissingInputs(model, loaded, inputs) is null ? Run(model, loaded, inputs) : null;
    }

    // Fills the model's inputs from the computed features or the pushed vector; returns why it cannot, or null.
    private string? MissingInputs(ModelRef model, Model loaded, Span<float> inputs)
    {
        if (Inputs(loaded) is { } indices)
        {
            if (!HasBars)
            {
                return $"{Asset}: model {model} is fed computed features and the asset has no bars yet";
            }
            for (int i = 0; i < inputs.Length; i++)
            {
                // Undefined features (warm-up) are missing values for the model.
                inputs[i] = (float)_values[indices[i]];
            }
            return null;
        }
        if (Pushed is null)
        {
            return $"{Asset}: model {model} takes {loaded.FeatureCount} pushed features and none were pushed";
        }
        if (Pushed.Length != loaded.FeatureCount)
        {
            return $"{Asset}: model {model} takes {loaded.FeatureCount} features, the pushed vector has {Pushed.Length}";
        }
        Pushed.CopyTo(inputs);
        return null;
    }

    private PredictionResult Run(ModelRef model, Model loaded, ReadOnlySpan<float> inputs)
    {
        var output = new float[loaded.OutputCount];
        loaded.Predict(inputs, output);
        _metrics.Predicted();
        return new PredictionResult(Asset, output, model, _inputs is null ? PushedAt : _lastTimestamp);
    }

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
        return new GridException(GridErrorKind.NotFound, $"asset {Asset} {what}");
    }

    // Where a model's inputs come from, worked out once per model rather than on every prediction: indices
    // into the computed features (adding any the spec lacks), or null when it takes the pushed vector.
    private int[]? Inputs(Model model)
    {
        if (!ReferenceEquals(model, _inputsModel))
        {
            _inputs = null;
            if (UsesComputedFeatures(model))
            {
                EnsureFeatures(model.FeatureNames!);
                var index = _spec.Names.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
                _inputs = model.FeatureNames!.Select(n => index[n]).ToArray();
            }
            _inputsModel = model;
        }
        return _inputs;
    }

    // A model whose every feature name follows the feature grammar is fed the grain's computed features.
    private static bool UsesComputedFeatures(Model model) =>
        model.FeatureNames is { } names && names.All(n => TryParse(n));

    private static bool TryParse(string name)
    {
        try
        {
            FeatureDefinition.Parse(name);
            return true;
        }
        catch (FeatureSpecException)
        {
            return false;
        }
    }

    // Adds the model's features to the spec when they are not computed yet, rebuilding the streams from the
    // retained history (exact once the history covers each new feature's warm-up).
    // Features are only ever appended, so indices worked out for an earlier model stay valid.
    private void EnsureFeatures(IReadOnlyList<string> names)
    {
        var current = new HashSet<string>(_spec.Names, StringComparer.Ordinal);
        var missing = names.Where(n => !current.Contains(n)).Distinct().ToList();
        if (missing.Count == 0)
        {
            return;
        }
        _spec = _specs.Get(string.Join(',', _spec.Names.Concat(missing)));
        _specChanged = true;
        if (_stream is null || _history is null)
        {
            return; // no bars yet: the streams start with the first one
        }
        if (_archive.IsDurable)
        {
            _replayNeeded = true; // CatchUp replays every archived bar with the new spec, not just the history
            return;
        }
        StartStream();
        int start = _historyCount < _history.Length ? 0 : _historyNext;
        for (int i = 0; i < _historyCount; i++)
        {
            _stream!.Update(_history[(start + i) % _history.Length].Bar, _values);
        }
    }

    private void StartStream()
    {
        _streamSpec = _spec;
        _stream = _spec.CreateStream();
        _values = new double[_spec.Count];
        Array.Fill(_values, double.NaN);
    }
}


internal readonly record struct Subscription(IPredictionObserver Observer, long ExpiresAt);

internal sealed class TimestampOrder : IComparer<StoredBar>
{
    public static readonly TimestampOrder Instance = new();

    public int Compare(StoredBar x, StoredBar y) => x.Timestamp.CompareTo(y.Timestamp);
}
