using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Grains.Placement;
using MarketIntel.Training.Devices;
using MarketIntel.Training.Retraining;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining;

/// <summary>
/// One retraining job on a worker silo (<see cref="IRetrainJobGrain"/>; docs/retraining.md). <see cref="Run"/> starts
/// the work and returns: resolve the served version and its lineage, choose the assets, read their archived bars up to
/// the job's <see cref="RetrainJob.Through"/> (the first attempt fixes it: the newest bar time the archive holds of those
/// assets when it reads them), train (<see cref="RetrainPipeline.Run"/>, on the thread pool, so the
/// silo's scheduler never waits for it; through the silo's device where its host opened one and it has not failed:
/// <see cref="SiloTrainingDevice"/>; a device that fails during the job leaves it to the CPU from its start), register the challenger with its lineage and the tag
/// <see cref="JobTag"/> unless a version with that tag exists already, and put it in shadow. Each step, and the
/// pipeline's progress at most every <see cref="ReportEvery"/>, goes to the model's coordinator.
/// <para>
/// A retried job (its first worker died) reads the same bars, so the pipeline makes the same version, and the tag
/// makes a registration that did happen count: at most one version per job. The activation's deactivation (its silo
/// stopping) stops the work without a report; the coordinator starts it again elsewhere.
/// </para>
/// </summary>
[WorkerPlacement]
public sealed partial class RetrainJobGrain(IBarArchive archive, IDriftStore drift, IOptions<RetrainingOptions> options, ILocalSiloDetails silo, ILogger<RetrainJobGrain> log,
    SiloTrainingDevice devices)
    : Grain, IRetrainJobGrain, IDisposable
{
    /// <summary>The tag a job's challenger carries: its job id.</summary>
    public const string JobTag = "retrain.job";

    /// <summary>
    /// The alias whose version a job retrains when the default model is not of the job's model name: the one
    /// <c>models promote</c> moves unless told otherwise.
    /// </summary>
    public const string ServedAlias = "champion";

    /// <summary>How often, at most, the pipeline's progress is reported.</summary>
    public static readonly TimeSpan ReportEvery = TimeSpan.FromMilliseconds(500);

    private readonly RetrainingOptions _options = options.Value;
    private RetrainJob? _job;  // as last reported
    private Task? _work;
    private CancellationTokenSource? _stop;
    private bool _cancelled;

    private IModelRegistryGrain Registry => GrainFactory.GetGrain<IModelRegistryGrain>(0);

    public async Task Run(RetrainJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (job.Id != this.GetPrimaryKeyString())
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"job {job.Id} was sent to the grain of job {this.GetPrimaryKeyString()}");
        }
        if (_work is { IsCompleted: false })
        {
            return;
        }
        if (_job is { State: RetrainJobState.Registered or RetrainJobState.Failed } ended)
        {
            // Done here already, but the coordinator asks again: its copy of the end was lost on the way.
            await Coordinator(ended).Report(ended);
            return;
        }
        _cancelled = false;
        _stop?.Dispose();
        _stop = new CancellationTokenSource();
        _job = job with { State = RetrainJobState.Running, Worker = silo.SiloAddress.ToString(), Detail = "resolving the served version", Progress = RetrainProgress.None };
        _work = Work(_stop.Token);
    }

    public Task<bool> IsRunning() => Task.FromResult(_work is { IsCompleted: false });

    public async Task Cancel()
    {
        _cancelled = true;
        if (_stop is not null)
        {
            await _stop.CancelAsync();
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The silo is going (or the grain is collected): stop here; the coordinator starts the job again on a worker.
        if (_work is { IsCompleted: false } work)
        {
            LogStopped(_job!.Request.Name, _job.Id, reason.Description);
            await _stop!.CancelAsync();
            await work.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }
        _stop?.Dispose();
    }

    public void Dispose() => _stop?.Dispose();

    private IRetrainCoordinatorGrain Coordinator(RetrainJob job) => GrainFactory.GetGrain<IRetrainCoordinatorGrain>(job.Request.Name);

    // Runs on the grain's scheduler but for the archive read and the training, which run on the thread pool.
    private async Task Work(CancellationToken stop)
    {
        RetrainJob job = _job!;
        string name = job.Request.Name;
        long started = Stopwatch.GetTimestamp();
        try
        {
            await Report(job);
            ModelDetails model = await Registry.GetModel(name);
            string? baseVersion = job.BaseVersion ?? Served(model, await Registry.GetDefault());
            if (baseVersion is null && (job.Request.Spec is null || job.Request.Label is null))
            {
                throw new ArgumentException($"model '{name}' has no served version to retrain: neither the default model nor its alias '{ServedAlias}' " +
                    "names one of its versions; point the alias at one, or give both spec and label in the request");
            }
            string? lineage = baseVersion is null ? null : model.Versions.FirstOrDefault(v => v.Info.Model.Version == baseVersion)?.Lineage;
            RetrainPlan plan = RetrainPlans.FromLineage(name, baseVersion, lineage, job.Request.Spec, job.Request.Label, _options.Folds, _options.ProfileBins,
                $"marketintel retrain (job {job.Id})");
            IReadOnlyList<string> assets = job.Request.Assets is { Count: > 0 } given ? given : await KnownAssets(name, lineage, job.Request.TriggerAssets);
            if (assets.Count == 0)
            {
                throw new ArgumentException($"model '{name}': no assets are known to train on: the request names none, the lineage of " +
                    $"{baseVersion ?? "its served version"} lists none, and no asset's drift window counts one of its versions; name them in the request");
            }
            string upTo = job.Through != 0 ? $"up to {RetrainText.Time(job.Through)}" : "up to the newest";
            job = job with { BaseVersion = baseVersion, Detail = $"reading the archive's bars of {assets.Count} asset(s) {upTo}" };
            await Report(job);

            var relay = new ProgressRelay(Coordinator(job), job, log);
            (IReadOnlyList<AssetBars> bars, long newest) = await Task.Run(() => ReadBars(assets, job.Through != 0 ? job.Through : long.MaxValue, relay, stop), stop);
            if (bars.Count == 0)
            {
                throw new ArgumentException($"model '{name}': the archive holds no bars of {string.Join(", ", assets)} {upTo}");
            }
            long barsRead = bars.Sum(b => (long)b.Bars.Count);
            // The archive's time, not the clock's: bars replayed from history are older than any wall-clock cut-off,
            // so a retry reading up to "now" would take bars ingested after this attempt read.
            int threads = _options.Threads > 0 ? _options.Threads : Environment.ProcessorCount;
            // Where the silo's host opened a device, the booster's row work runs there (docs/gpu.md); the detail says so.
            (ITrainingDevice? device, string where) = devices.Choose();
            string training = $"training on {barsRead} bars of {bars.Count} asset(s) with {threads} booster thread{(threads == 1 ? "" : "s")}";
            job = job with
            {
                Through = job.Through != 0 ? job.Through : newest, Progress = RetrainProgress.None with { BarsRead = barsRead },
                Detail = training + where,
            };
            await Report(job);
            relay.Continue(job);
            RetrainPlan sized = plan with { Parameters = plan.Parameters with { Threads = threads } };
            TrainingDeviceException? failed = null;
            RetrainOutput output = await Task.Run(() => RetrainPipeline.Run(sized, bars, relay, stop, device, failure =>
            {
                failed = failure;
                devices.Failed(name, job.Id, failure);
                relay.FellBack($"{training} on the CPU, again from the start: device {failure.Device} failed ({failure.Error})");
            }), stop);
            RetrainJob trained = relay.Stop();
            job = trained with { Progress = trained.Progress with { Rows = output.Rows, Validation = output.Validation } };

            stop.ThrowIfCancellationRequested();
            job = job with { Detail = $"registering {output.Version}" };
            await Report(job);
            string version = await Register(job, output, stop);
            job = job with
            {
                State = RetrainJobState.Registered, Version = version,
                Detail = $"registered {version} as a shadow of '{name}' (replacing {baseVersion ?? "nothing"}){TrainedOn(device, failed)}: the promotion gate decides",
            };
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            LogRegistered(name, job.Id, version, seconds);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Cancelled by a client (the coordinator has recorded it) or stopped with the activation (the coordinator
            // starts it again): no report either way.
            _job = job with { State = RetrainJobState.Cancelled, Detail = _cancelled ? "cancelled" : "stopped with its silo" };
            return;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A plan, an archive or a registration that fails ends the job with the reason; anything else too, rather
            // than a job reported running for ever.
            job = job with { State = RetrainJobState.Failed, Detail = e is ArgumentException or FormatException or GridException ? e.Message : $"{e.GetType().Name}: {e.Message}" };
            LogFailed(name, job.Id, e);
        }
        _job = job;
        try
        {
            await Report(job);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The coordinator asks again (IsRunning says no, and Run then sends this end once more).
            LogReportFailed(name, job.Id, e);
        }
    }

    // Where the job's model trained, for its last detail: nothing without a device.
    private string TrainedOn(ITrainingDevice? device, TrainingDeviceException? failed) => (device, failed, devices.Failure) switch
    {
        (null, _, null) => "",
        (null, _, { } failure) => $", trained on the CPU ({SiloTrainingDevice.OutOfUse(failure)})",
        (_, null, _) => $", trained on {device.Device}",
        (_, { } failure, _) => $", trained on the CPU after device {failure.Device} failed ({failure.Error})",
    };

    private async Task Report(RetrainJob job)
    {
        _job = job;
        await Coordinator(job).Report(job);
    }

    /// <summary>
    /// The version the model serves, which a job retrains and would replace: the default model's, when the default is
    /// of this name (an alias resolved), else the version its alias "champion" names. Score decay judges the same one.
    /// </summary>
    internal static string? Served(ModelDetails model, ModelRef? defaultModel)
    {
        if (defaultModel is not null && defaultModel.Name == model.Name)
        {
            return defaultModel.IsAlias ? model.Deployment.Aliases.GetValueOrDefault(defaultModel.Alias!)?.Version : defaultModel.Version;
        }
        return model.Deployment.Aliases.GetValueOrDefault(ServedAlias)?.Version;
    }

    // The lineage's assets, then those the trigger named, then those whose drift windows count one of the model's versions.
    private async Task<IReadOnlyList<string>> KnownAssets(string name, string? lineage, IReadOnlyList<string>? triggered)
    {
        var assets = new List<string>();
        if (lineage is not null)
        {
            using JsonDocument json = JsonDocument.Parse(lineage);
            if (json.RootElement.TryGetProperty("data", out JsonElement data) && data.ValueKind == JsonValueKind.Object
                && data.TryGetProperty("assets", out JsonElement listed) && listed.ValueKind == JsonValueKind.Array)
            {
                assets.AddRange(listed.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!));
            }
        }
        assets.AddRange(triggered ?? []);
        assets.AddRange((await drift.Read(name)).Select(w => w.Asset));
        return [.. assets.Where(a => AssetSymbol.Problem(a) is null).Distinct(StringComparer.Ordinal)];
    }

    // Each asset's most recent bars up to the job's Through (at most Grid:Retraining:MaxBarsPerAsset), oldest first;
    // assets with none are left out. Also the newest bar time read (long.MinValue with none).
    private async Task<(IReadOnlyList<AssetBars> Bars, long Newest)> ReadBars(IReadOnlyList<string> assets, long through, ProgressRelay relay, CancellationToken stop)
    {
        var read = new List<AssetBars>();
        long total = 0, newest = long.MinValue;
        foreach (string asset in assets)
        {
            var recent = new Queue<StoredBar>();
            await foreach (StoredBar bar in archive.Read(asset, cancellationToken: stop))
            {
                if (bar.Timestamp > through)
                {
                    break;
                }
                if (recent.Count == _options.MaxBarsPerAsset)
                {
                    recent.Dequeue();
                }
                recent.Enqueue(bar);
            }
            if (recent.Count == 0)
            {
                continue;
            }
            StoredBar[] bars = [.. recent];
            newest = Math.Max(newest, bars[^1].Timestamp);
            read.Add(new AssetBars(asset, new BarSeries([.. bars.Select(b => b.Timestamp.ToString(CultureInfo.InvariantCulture))], [.. bars.Select(b => b.Bar.Open)],
                [.. bars.Select(b => b.Bar.High)], [.. bars.Select(b => b.Bar.Low)], [.. bars.Select(b => b.Bar.Close)], [.. bars.Select(b => b.Bar.Volume)])));
            total += bars.Length;
            relay.BarsRead(total);
        }
        return (read, newest);
    }

    // Registers the challenger unless a version with this job's tag exists (an earlier attempt registered it), and
    // puts it in shadow. Returns its version.
    private async Task<string> Register(RetrainJob job, RetrainOutput output, CancellationToken stop)
    {
        string name = job.Request.Name;
        ModelVersionDetails? earlier = (await Registry.GetModel(name)).Versions.FirstOrDefault(v => v.Tags.GetValueOrDefault(JobTag) == job.Id);
        string version = earlier?.Info.Model.Version ?? output.Version;
        if (version == job.BaseVersion)
        {
            throw new ArgumentException($"model '{name}': the retrained model is the served version {version} itself (the same bars and plan it was trained on): nothing to shadow");
        }
        if (earlier is null)
        {
            // The last point a cancellation stops the job: from here the version is registered.
            stop.ThrowIfCancellationRequested();
            await Registry.Register(new ModelRegistration(name, output.Version, output.Model, output.Lineage,
                new Dictionary<string, string> { [JobTag] = job.Id }, null, job.Request.Client));
        }
        else
        {
            LogFoundRegistered(name, job.Id, version);
        }
        await Registry.SetShadow(new ModelRef(name, version), true, job.Request.Client);
        return version;
    }

    /// <summary>
    /// The pipeline's progress on its way to the coordinator, from the thread pool: the job's record as of the step
    /// with the latest counts, sent at most every <see cref="ReportEvery"/> (and never two at once). It holds no state
    /// of the grain.
    /// </summary>
    private sealed class ProgressRelay(IRetrainCoordinatorGrain coordinator, RetrainJob job, ILogger log) : IProgress<RetrainStep>
    {
        private readonly Lock _lock = new();
        private RetrainJob _job = job;
        private long _lastSent = Stopwatch.GetTimestamp();
        private bool _sending;
        private bool _stopped;
        private bool _urgent;  // a change to send without waiting for ReportEvery (once the one in flight is answered)

        public void Continue(RetrainJob job)
        {
            lock (_lock)
            {
                _job = job;
            }
        }

        public RetrainJob Stop()
        {
            lock (_lock)
            {
                _stopped = true;
                return _job;
            }
        }

        /// <summary>The device failed and the job starts again on the CPU: <paramref name="detail"/> says so at once
        /// (the first fold's model may take minutes to report), and the device's scores go (the CPU's replace them).</summary>
        public void FellBack(string detail) => Update(j => j with { Detail = detail, Progress = j.Progress with { Validation = null } }, urgent: true);

        public void BarsRead(long bars) => Update(j => j with { Progress = j.Progress with { BarsRead = bars } });

        public void Report(RetrainStep value) => Update(j => j with
        {
            Progress = j.Progress with
            {
                Rows = value.Rows, FoldsDone = value.FoldsDone, Folds = value.Folds, RoundsDone = value.RoundsDone, Rounds = value.Rounds,
                Validation = value.Validation ?? j.Progress.Validation,
            },
        });

        private void Update(Func<RetrainJob, RetrainJob> change, bool urgent = false)
        {
            RetrainJob? send;
            lock (_lock)
            {
                if (_stopped)
                {
                    return;
                }
                _job = change(_job);
                _urgent |= urgent;
                send = Due();
            }
            if (send is not null)
            {
                _ = Send(send);
            }
        }

        // Under the lock: the record to send now, if one is due and none is in flight.
        private RetrainJob? Due()
        {
            if (_stopped || _sending || (!_urgent && Stopwatch.GetElapsedTime(_lastSent) < ReportEvery))
            {
                return null;
            }
            _sending = true;
            _urgent = false;
            _lastSent = Stopwatch.GetTimestamp();
            return _job;
        }

        private async Task Send(RetrainJob job)
        {
            RetrainJob? next = null;
            try
            {
                await coordinator.Report(job);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogProgressLost(log, job.Id, e);  // progress only: the next report carries the counts
            }
            finally
            {
                lock (_lock)
                {
                    _sending = false;
                    next = _urgent ? Due() : null;
                }
            }
            if (next is not null)
            {
                _ = Send(next);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': retraining job {Job} registered {Version} in {Seconds:0.0} s")]
    private partial void LogRegistered(string name, string job, string version, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': retraining job {Job} found {Version} registered by an earlier attempt")]
    private partial void LogFoundRegistered(string name, string job, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model '{Name}': retraining job {Job} failed")]
    private partial void LogFailed(string name, string job, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': retraining job {Job} stopped with its activation ({Reason}); its coordinator starts it again")]
    private partial void LogStopped(string name, string job, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model '{Name}': the end of retraining job {Job} could not be reported; the coordinator asks again")]
    private partial void LogReportFailed(string name, string job, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Retraining job {Job}: a progress report could not be sent")]
    private static partial void LogProgressLost(ILogger logger, string job, Exception exception);
}
