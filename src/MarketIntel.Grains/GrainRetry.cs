namespace MarketIntel.Grains;

/// <summary>
/// Calls to asset grains that Orleans may reject in passing. An asset grain that knows nothing lets its empty
/// activation go a few seconds after answering (<c>DeactivateOnIdle</c>), so junk symbols cost no memory for long;
/// calls that arrive as it goes are forwarded to a new activation, and under concurrent load on the same symbol
/// Orleans gives up after two forwards with <see cref="OrleansMessageRejectionException"/>. The rejected message was never processed, so
/// sending it again is safe for every asset-grain method (bars and pushes are idempotent besides).
/// In a cluster, a silo that died leaves calls failing until membership declares it dead and its grains are
/// placed elsewhere; those failures become <see cref="Abstractions.GridErrorKind.Unavailable"/> errors that clients retry.
/// </summary>
public static class GrainRetry
{
    private const int Attempts = 5;

    public static async Task<T> OnRejection<T>(Func<Task<T>> call)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (OrleansMessageRejectionException) when (attempt < Attempts)
            {
            }
            catch (Exception e) when (e is OrleansMessageRejectionException or SiloUnavailableException or TimeoutException)
            {
                throw new Abstractions.GridException(Abstractions.GridErrorKind.Unavailable, $"the asset's grain did not answer ({e.GetType().Name}: its silo may be down, or a server it waits for slow); retry shortly");
            }
        }
    }

    public static Task OnRejection(Func<Task> call) => OnRejection(async () =>
    {
        await call();
        return true;
    });
}
