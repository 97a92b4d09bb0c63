using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Features;
using MarketIntel.Inference;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains;

/// <summary>
/// One asset: validates each bar, updates the streaming features in O(1), keeps a bounded history, and
/// predicts in process with the silo's shared copy of its model, on demand and, for subscribers, after every
/// accepted bar. State lives in memory (embedded defaults); cluster mode will persist it.
/// </summary>
public sealed class AssetGrain : Grain, IAssetGrain
{
    private readonly GridOptions _options;
    private readonly SiloModelCache _models;
    private readonly GridMetrics _metrics;
    private readonly FeatureSpecCache _specs;
    private readonly LocalPredictor _local;
    private PredictionSlot? _slot;
    private StoredBar[]? _history;  // allocated with the first bar: an asset fed only pushed vectors needs none
    private int _historyCount;
    private int _historyNext;
    private FeatureSet _spec;
    private StreamingFeatureSet? _stream;
    private double[] _values = [];
    private long _lastTimestamp = long.MinValue;
    private float[]? _pushed;
    private long _pushedAt;        // when _pushed arrived, Unix ms
    private ModelRef? _assigned;
    private Model? _inputsModel;   // the model _inputs was worked out for
    private int[]? _inputs;        // its inputs' indices into the computed features; null: the pushed vector
    private List<Subscription>? _subscribers;
    private IGrainTimer? _emptyTimer;  // set while an unknown asset's empty activation waits to be let go

    public AssetGrain(IOptions<GridOptions> options, SiloModelCache models, GridMetrics metrics, FeatureSpecCache specs, LocalPredictor local)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _models = models;
        _metrics = metrics;
        _specs = specs;
        _local = local;
        _spec = specs.Get(_options.Features);
    }

    private string Asset => this.GetPrimaryKeyString();

    private bool HasBars => _lastTimestamp != long.MinValue;

    private bool IsEmpty => !HasBars && _pushed is null && _assigned is null && _subscribers is null;

    private void LetGoIfEmpty()
    {
        _emptyTimer?.Dispose();
        _emptyTimer = null;
        if (IsEmpty)
        {
            DeactivateOnIdle();
        }
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _slot = _local.Register(Asset);
        _metrics.Activated();
        return Task.CompletedTask;
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
        _slot?.Withdraw();
        // The model is resolved once per batch so that the features it needs are computed from the first bar on;
        // predictions after each bar are made only for subscribers.
        (ModelRef Ref, Model Loaded)? model = await TryResolveModel();
        if (model is { } resolved)
        {
            Inputs(resolved.Loaded);
        }
        bool publish = HasSubscribers();
        List<PredictionResult>? predictions = null;
        int accepted = 0, ignored = 0;
        var reasons = new List<string>();
        foreach (BarData bar in bars)
        {
            if (bar is null)
            {
                reasons.Add("a bar is missing (null)");
                continue;
            }
            if (bar.Timestamp <= _lastTimestamp)
            {
                if (bar.Timestamp < _lastTimestamp && IsUnknownRecent(bar.Timestamp))
                {
                    reasons.Add($"{Describe(bar)}: timestamp is before the last accepted bar ({_lastTimestamp}) and was never accepted");
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
            Accept(bar);
            accepted++;
            if (publish && model is { } m && TryPredict(m.Ref, m.Loaded) is { } prediction)
            {
                (predictions ??= []).Add(prediction);
            }
        }
        _metrics.Ingested(accepted, ignored, reasons.Count);
        if (predictions is not null)
        {
            Publish(predictions);
        }
        return new IngestResult(accepted, ignored, reasons.Count, reasons);
    }

    // A timestamp older than the last accepted one is a replayed duplicate when the history holds it, or when
    // it is older than everything the history still holds (it cannot be checked there, and a replay starts from
    // the beginning); otherwise it would be a new bar out of order.
    private bool IsUnknownRecent(long timestamp)
    {
        if (_history is null || _historyCount == 0 || timestamp < Oldest().Timestamp)
        {
            return false;
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

    /// <summary>Why a bar is invalid, or null when it is fine.</summary>
    internal static string? Validate(BarData bar)
    {
        foreach (var (name, value) in new[] { ("open", bar.Open), ("high", bar.High), ("low", bar.Low), ("close", bar.Close), ("volume", bar.Volume) })
        {
            if (!double.IsFinite(value))
            {
                return $"{name} {value.ToString(CultureInfo.InvariantCulture)} is not a finite number";
            }
            if (name != "volume" && value <= 0)
            {
                return $"{name} {value.ToString(CultureInfo.InvariantCulture)} must be positive";
            }
        }
        if (bar.Volume < 0)
        {
            return $"volume {bar.Volume.ToString(CultureInfo.InvariantCulture)} must not be negative";
        }
        if (bar.Low > bar.High)
        {
            return $"low {bar.Low.ToString(CultureInfo.InvariantCulture)} is above high {bar.High.ToString(CultureInfo.InvariantCulture)}";
        }
        foreach (var (name, value) in new[] { ("open", bar.Open), ("close", bar.Close) })
        {
            if (value < bar.Low || value > bar.High)
            {
                return $"{name} {value.ToString(CultureInfo.InvariantCulture)} is outside [low {bar.Low.ToString(CultureInfo.InvariantCulture)}, high {bar.High.ToString(CultureInfo.InvariantCulture)}]";
            }
        }
        return null;
    }

    private void Accept(BarData bar)
    {
        if (_stream is null)
        {
            StartStream();
        }
        _history ??= new StoredBar[_options.HistoryLength];
        var values = new Bar(bar.Open, bar.High, bar.Low, bar.Close, bar.Volume);
        _stream!.Update(values, _values);
        _lastTimestamp = bar.Timestamp;
        _history[_historyNext] = new StoredBar(bar.Timestamp, values);
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
        _slot?.Withdraw();
        _pushed = values.ToArray();
        _pushedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        if (HasSubscribers() && await TryResolveModel() is { } model && TryPredict(model.Ref, model.Loaded) is { } prediction)
        {
            Publish([prediction]);
        }
    }

    public Task<FeatureSnapshot> GetFeatures()
    {
        if (!HasBars)
        {
            throw Unknown("has no bars");
        }
        return Task.FromResult(new FeatureSnapshot(Asset, _lastTimestamp, _spec.Names.ToArray(), _values.ToArray()));
    }

    public async Task AssignModel(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        AssetSymbol.Validate(Asset);
        Model loaded = await _models.Get(model);
        Inputs(loaded);
        _slot?.Withdraw();
        _assigned = model;
    }

    public async Task<PredictionResult> Predict()
    {
        if (!HasBars && _pushed is null && _assigned is null)
        {
            throw Unknown("has no bars, no pushed features and no assigned model");
        }
        ModelRef model = _assigned
            ?? await _models.GetDefault()
            ?? throw new GridException(GridErrorKind.FailedPrecondition, $"{Asset}: no model assigned and no default model registered");
        Model loaded = await _models.Get(model);
        var inputs = new float[loaded.FeatureCount];
        if (MissingInputs(model, loaded, inputs) is { } problem)
        {
            throw new GridException(GridErrorKind.FailedPrecondition, problem);
        }
        PredictionResult result = Run(model, loaded, inputs);
        // Nothing writes to inputs after this: later requests on this silo may predict from it directly.
        _slot?.Publish(new PredictionSnapshot(_assigned, model, loaded, inputs, result.AsOf));
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
            ModelRef? model = _assigned ?? await _models.GetDefault();
            return model is null ? null : (model, await _models.Get(model));
        }
        catch (GridException)
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
        if (_pushed is null)
        {
            return $"{Asset}: model {model} takes {loaded.FeatureCount} pushed features and none were pushed";
        }
        if (_pushed.Length != loaded.FeatureCount)
        {
            return $"{Asset}: model {model} takes {loaded.FeatureCount} features, the pushed vector has {_pushed.Length}";
        }
        _pushed.CopyTo(inputs);
        return null;
    }

    private PredictionResult Run(ModelRef model, Model loaded, ReadOnlySpan<float> inputs)
    {
        var output = new float[loaded.OutputCount];
        loaded.Predict(inputs, output);
        _metrics.Predicted();
        return new PredictionResult(Asset, output, model, _inputs is null ? _pushedAt : _lastTimestamp);
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
        if (_stream is null || _history is null)
        {
            return; // no bars yet: the streams start with the first one
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
        _stream = _spec.CreateStream();
        _values = new double[_spec.Count];
        Array.Fill(_values, double.NaN);
    }
}

/// <summary>A bar as the history keeps it: a struct, so the history is one flat array.</summary>
internal readonly record struct StoredBar(long Timestamp, Bar Bar);

internal readonly record struct Subscription(IPredictionObserver Observer, long ExpiresAt);
