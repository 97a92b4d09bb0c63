namespace MarketIntel.Server.WebConsole;

/// <summary>
/// The console's models page, <c>/ui/models</c> (<c>?name=NAME</c> for one model name; docs/console.md): an embedded
/// page whose script reads the registry, scores, retraining and audit JSON the grid already publishes, polling it every
/// few seconds, so the page needs no endpoint of its own for its data. Admin like every <c>/ui</c> path.
/// </summary>
internal static class ConsoleModelsPage
{
    /// <summary>Where the page lives.</summary>
    public const string Path = ConsoleEndpoints.Root + "/models";

    public static void MapConsoleModels(this IEndpointRouteBuilder app) =>
        app.MapGet(Path, (HttpContext http) => ConsoleEndpoints.Serve(http, "models.html"));
}
