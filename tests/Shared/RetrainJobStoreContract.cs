using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Tests;

/// <summary>What every <see cref="IRetrainJobStore"/> promises the retraining coordinators, claimed once and run against each store.</summary>
public abstract class RetrainJobStoreContract
{
    /// <summary>The store under test: empty at the start of each test.</summary>
    protected abstract IRetrainJobStore Store { get; }

    private static RetrainJob Job(string id, string name, long createdAt, RetrainJobState state = RetrainJobState.Waiting) => new(
        id, new RetrainRequest(name, RetrainTrigger.Drift, "MSFT: 3 of 8 series drifting", "triggers") { Assets = ["MSFT", "AAPL"], Label = "up_5" },
        state, "waiting for a worker", RetrainProgress.None, "v1", null, 0, null, createdAt - 1000, createdAt, createdAt, null);

    [Fact]
    public async Task A_job_reads_back_as_saved_and_a_later_save_replaces_its_record()
    {
        RetrainJob job = Job("a1", "dir", 1_000);
        await Store.Save(job);
        RetrainJob read = (await Store.Get("a1"))!;
        Assert.Equal(job with { Request = read.Request }, read);
        Assert.Equal(job.Request with { Assets = read.Request.Assets }, read.Request);
        Assert.Equal(["MSFT", "AAPL"], read.Request.Assets);

        RetrainJob registered = job with
        {
            State = RetrainJobState.Registered, Detail = "registered 0123456789ab", Version = "0123456789ab", Attempt = 2, Worker = "S127.0.0.1:11112:1",
            Progress = new RetrainProgress(12_000, 11_950, 4, 4, 100, 100, new Dictionary<string, double> { ["accuracy"] = 0.52, ["auc"] = 0.55, ["logLoss"] = double.NaN }),
            UpdatedAt = 9_000, FinishedAt = 9_000,
        };
        await Store.Save(registered);
        read = (await Store.Get("a1"))!;
        Assert.Equal(RetrainJobState.Registered, read.State);
        Assert.Equal(("0123456789ab", 2, "S127.0.0.1:11112:1", 9_000L, (long?)9_000), (read.Version, read.Attempt, read.Worker, read.UpdatedAt, read.FinishedAt));
        Assert.Equal((12_000L, 11_950, 4, 4, 100, 100), (read.Progress.BarsRead, read.Progress.Rows, read.Progress.FoldsDone, read.Progress.Folds, read.Progress.RoundsDone, read.Progress.Rounds));
        Assert.Equal(0.52, read.Progress.Validation!["accuracy"]);
        Assert.True(double.IsNaN(read.Progress.Validation["logLoss"]));
        Assert.False(read.IsActive);
        Assert.Null(await Store.Get("none"));
    }

    [Fact]
    public async Task A_models_jobs_list_newest_first_up_to_the_limit_and_never_another_models()
    {
        await Store.Save(Job("b", "dir", 2_000));
        await Store.Save(Job("c", "dir", 3_000, RetrainJobState.Failed));
        await Store.Save(Job("a", "dir", 1_000, RetrainJobState.Cancelled));
        await Store.Save(Job("x", "ret", 5_000));
        // Same creation time: the larger id (in byte order) first.
        await Store.Save(Job("d", "dir", 3_000));
        Assert.Equal(["d", "c", "b", "a"], (await Store.List("dir", 10)).Select(j => j.Id));
        Assert.Equal(["d", "c"], (await Store.List("dir", 2)).Select(j => j.Id));
        Assert.Equal(["x"], (await Store.List("ret", 10)).Select(j => j.Id));
        Assert.Empty(await Store.List("none", 10));
        Assert.Empty(await Store.List("dir", 0));
    }

    [Fact]
    public async Task A_record_without_an_id_or_a_model_name_is_refused_and_changes_nothing()
    {
        RetrainJob job = Job("a1", "dir", 1_000);
        await Store.Save(job);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Store.Save(job with { Id = " " }));
        Assert.Contains("id", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<ArgumentException>(() => Store.Save(job with { Request = job.Request with { Name = "" }, State = RetrainJobState.Failed }));
        Assert.Contains("a1", e.Message, StringComparison.Ordinal);
        Assert.Contains("model's name", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => Store.Save(job with { Attempt = -1, State = RetrainJobState.Failed }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.List("dir", -1));
        Assert.Equal(RetrainJobState.Waiting, (await Store.Get("a1"))!.State);
    }
}
