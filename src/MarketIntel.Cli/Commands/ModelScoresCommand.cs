using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel models scores</c>: a model name's live outcome scores from a running grid, over gRPC
/// (<c>grpc://</c>, <c>grpcs://</c>) or HTTP (<c>http://</c>, <c>https://</c>: <c>GET /models/{name}/scores</c>), as a
/// table (with what the promotion gate would decide now on each challenger) or, with <c>--json</c>, as the HTTP API's JSON.
/// </summary>
internal static class ModelScoresCommand
{
    public const string Usage =
        "marketintel models scores --target grpc[s]://HOST:PORT|http[s]://HOST:PORT --name NAME [--asset SYMBOL] [--json] [--api-key KEY] [--tls-ca CA.pem]";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["target", "name", "asset", "api-key", "tls-ca"], flags: ["json"]);
        string target = options.Required("target");
        string name = options.Required("name");
        string? asset = options.Optional("asset");
        if (asset is not null && Abstractions.AssetSymbol.Problem(asset) is { } problem)
        {
            throw new UsageException($"--asset: {problem}");
        }
        ScoresReply reply = GridHttp.Names(target)
            ? OverHttp(target, name, asset, options).GetAwaiter().GetResult()
            : OverGrpc(target, name, asset, options).GetAwaiter().GetResult();
        if (options.Flag("json"))
        {
            var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                ScoresJson.Write(json, reply);
            }
            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            return 0;
        }
        WriteTable(stdout, reply);
        return 0;
    }

    private static async Task<ScoresReply> OverGrpc(string target, string name, string? asset, CliArguments options)
    {
        using var channel = GridChannel.Create(target, GridChannel.ApiKey(options), GridChannel.TrustedCa(options));
        try
        {
            return await new Scores.ScoresClient(channel).GetScoresAsync(new GetScoresRequest { Name = name, Asset = asset ?? "" });
        }
        catch (RpcException e)
        {
            throw new IOException($"{target}: {e.StatusCode}: {e.Status.Detail}", e);
        }
    }

    private static async Task<ScoresReply> OverHttp(string target, string name, string? asset, CliArguments options)
    {
        using var http = new GridHttp(target, GridChannel.ApiKey(options), GridChannel.TrustedCa(options));
        string path = $"/models/{Uri.EscapeDataString(name)}/scores" + (asset is null ? "" : "?asset=" + Uri.EscapeDataString(asset));
        JsonElement answer = await http.Send(HttpMethod.Get, path);
        try
        {
            return ScoresJson.Read(answer);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
        {
            throw http.Unexpected(e);
        }
    }

    private static void WriteTable(TextWriter stdout, ScoresReply reply)
    {
        stdout.WriteLine($"model {reply.Name}" + (reply.Asset.Length > 0 ? $", asset {reply.Asset}" : ", all assets"));
        if (reply.Versions.Count == 0)
        {
            stdout.WriteLine("no scored predictions yet");
            return;
        }
        string[] header = ["version", "role", "label", "outcomes", "hits", "accuracy", "logLoss", "brier", "squaredError"];
        var rows = new List<string[]> { header };
        rows.AddRange(reply.Versions.Select(v => new[]
        {
            v.Version, v.Role, v.Label, Text(v.Outcomes), Text(v.Hits), Text(v.Accuracy), Text(v.LogLoss), Text(v.Brier), Text(v.SquaredError),
        }));
        int[] widths = [.. Enumerable.Range(0, header.Length).Select(c => rows.Max(r => r[c].Length))];
        foreach (string[] row in rows)
        {
            stdout.WriteLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        }
        foreach (PairScore p in reply.Pairs)
        {
            stdout.WriteLine($"{p.Champion} vs {p.Challenger}: {Text(p.Pairs)} paired outcomes, both right {Text(p.BothHit)}, only {p.Champion} {Text(p.ChampionOnlyHits)}, " +
                $"only {p.Challenger} {Text(p.ChallengerOnlyHits)}, mean loss difference {Text(p.MeanLossDifference)} (positive: {p.Challenger} did better)");
        }
        foreach (GateVerdict g in reply.Gate)
        {
            // The statistic names are the promotion decision's (PromotionStatistics on the server).
            double Statistic(string name) => g.Statistics.TryGetValue(name, out double value) ? value : double.NaN;
            stdout.WriteLine($"gate, alias {g.Alias}: {g.Champion} vs {g.Challenger}: {g.Verdict}; McNemar exact p {Text(Statistic("mcnemarP"))} " +
                $"(b {Count(Statistic("b"))}, c {Count(Statistic("c"))}), Diebold-Mariano (HLN) one-sided p {Text(Statistic("dmP"))}, " +
                $"improvement {Text(Statistic("improvement"))}, alpha {Text(g.Alpha)}, min pairs {Text(g.MinPairs)}");
            stdout.WriteLine($"  {g.Reason}");
        }
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Count(double value) => double.IsFinite(value) ? value.ToString("0", CultureInfo.InvariantCulture) : "-";

    private static string Text(double value) => double.IsFinite(value) ? value.ToString("0.0000", CultureInfo.InvariantCulture) : "-";
}
