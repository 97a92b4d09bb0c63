using MarketIntel.Abstractions;
using MarketIntel.Grains;

namespace MarketIntel.Server.Application;

/// <summary>
/// The grid's active assets for the web console and <c>GET /assets</c>: every asset grain activated on any silo
/// (Orleans' management grain asks each), filtered by a fragment of the symbol and cut into pages on the server, so a
/// grid of 10,000 assets sends a browser one page. Only the page's assets are asked for their summary.
/// </summary>
internal sealed class AssetsQuery(IGrainFactory grains)
{
    /// <summary>The page size when none is asked for.</summary>
    public const int DefaultPageSize = 50;

    /// <summary>The largest page one request may ask for.</summary>
    public const int MaxPageSize = 200;

    /// <summary>
    /// Page <paramref name="page"/> (from 1) of <paramref name="size"/> assets whose symbol contains
    /// <paramref name="search"/> (case-insensitive; empty: every asset), by symbol, each with its summary. A page past
    /// the last is empty, with the total still counted.
    /// </summary>
    public async Task<AssetPage> Find(string search, int page, int size)
    {
        (int total, string[] shown) = await Symbols(search, page, size);
        AssetSummary[] summaries = await Task.WhenAll(shown.Select(asset =>
            GrainRetry.OnRejection(() => grains.GetGrain<IAssetGrain>(asset).GetSummary())));
        return new AssetPage(total, page, size, summaries);
    }

    /// <summary>How many active assets match, and the symbols on the page, as <see cref="Find"/> pages them.</summary>
    public async Task<(int Total, string[] Page)> Symbols(string search, int page, int size)
    {
        if (search.Length > 0 && AssetSymbol.Problem(search) is { } problem)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"search: {problem}");
        }
        if (page < 1)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"page: {page} is not a page number; pages count from 1");
        }
        if (size is < 1 or > MaxPageSize)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"size: {size} is outside 1 to {MaxPageSize}");
        }
        GrainType type = grains.GetGrain<IAssetGrain>(AssetGrainTypeProbe).GetGrainId().Type;
        var active = await grains.GetGrain<IManagementGrain>(0).GetActiveGrains(type);
        string[] matching = [.. active
            .Select(id => id.Key.ToString()!)
            .Where(asset => asset.Contains(search, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)];
        long skip = (long)(page - 1) * size;
        return (matching.Length, skip >= matching.Length ? [] : matching[(int)skip..(int)Math.Min(matching.Length, skip + size)]);
    }

    // Any key names the grain type; no grain is activated by making a reference.
    private const string AssetGrainTypeProbe = "-";
}

/// <summary>One page of active assets: how many match in all, which page of what size, and the page's summaries.</summary>
internal sealed record AssetPage(int Total, int Page, int Size, IReadOnlyList<AssetSummary> Assets);
