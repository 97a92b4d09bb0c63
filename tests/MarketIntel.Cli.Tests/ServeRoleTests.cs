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
}
