namespace MarketIntel.Cli.Tests;

public sealed class ServeRoleTests : CliTestBase
{
    [Fact]
    public void A_role_that_is_not_serving_worker_or_all_stops_the_start_naming_the_value_and_the_choices()
    {
        var (code, _, err) = Run("serve", "--role", "gpu");
        Assert.Equal(2, code);
        Assert.Contains("MarketIntel:Role 'gpu' is not a silo role: serving, worker or all", err, StringComparison.Ordinal);
    }

    [Fact]
    public void The_role_flag_sets_the_role_setting_and_the_usage_names_it()
    {
        Assert.Equal("worker", Commands.ServeCommand.Overrides(["--role", "worker"])["MarketIntel:Role"]);
        Assert.DoesNotContain("MarketIntel:Role", Commands.ServeCommand.Overrides([]).Keys);
        Assert.Contains("[--role serving|worker|all]", Commands.ServeCommand.Usage, StringComparison.Ordinal);
    }

    [Fact]
    public void The_banner_shows_the_device_and_job_slots_of_a_silo_that_runs_jobs()
    {
        var device = Grains.Placement.WorkerDevice.Cpu(16, 3);
        string Banner(string role) => Commands.ServeCommand.Describe(new Server.Hosting.ServerOptions { Role = role }, device: device);
        Assert.Contains("role: worker (jobs; asset grains and predictions run on serving silos, this silo's API forwards to them; device cpu:16, 3 jobs at once)\n",
            Banner("worker"), StringComparison.Ordinal);
        Assert.Contains("role: all (asset grains, predictions and jobs; device cpu:16, 3 jobs at once)\n", Banner("all"), StringComparison.Ordinal);
        // A serving silo runs no job: its device is not part of what it offers.
        Assert.Contains("role: serving (asset grains and predictions; jobs run on worker silos)\n", Banner("serving"), StringComparison.Ordinal);
    }
}
