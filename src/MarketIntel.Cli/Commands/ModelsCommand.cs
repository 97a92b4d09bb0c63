using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using MarketIntel.Abstractions;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;
using MarketIntel.Inference;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel models list|show|register|alias|tag|shadow|split|promote|profile</c>: the model registry of a running grid,
/// over its gRPC service <c>Models</c> (<c>grpc[s]://</c>) or its HTTP API (<c>http[s]://</c>), printed the same either
/// way. Each change prints what the registry holds after it; <c>promote</c> prints the gate's decision with its
/// statistics (exit code 0 either way: a refusal is an answer, not an error).
/// </summary>
internal static class ModelsCommand
{
    private const string Connection = "--target grpc[s]://HOST:PORT|http[s]://HOST:PORT [--api-key KEY] [--tls-ca CA.pem]";

    public const string Usage = "marketintel models list|show|register|alias|tag|shadow|split|promote|profile " + Connection + " ...";

    /// <summary>Each subcommand's options, as <c>models --help</c> shows them.</summary>
    public const string Details =
        "  models list   " + Connection + "\n" +
        "  models show   --name NAME " + Connection + "\n" +
        "  models register --name NAME --version V --model MODEL.json [--lineage FILE (default MODEL.json.lineage.json when it exists)] [--alias A] " + Connection + "\n" +
        "  models alias  --name NAME --alias A (--version V | --remove) " + Connection + "\n" +
        "  models tag    --name NAME --version V [--set KEY=VALUE ...] [--remove KEY ...] " + Connection + "\n" +
        "  models shadow --name NAME --version V [--remove] " + Connection + "\n" +
        "  models split  --name NAME --alias A (--version V --weight W | --end) " + Connection + "\n" +
        "  models promote NAME --challenger V [--alias A (default champion)] [--json] " + Connection + "\n" +
        "  models profile --name NAME --version V (--profile FILE.json | --matrix FILE.csv | --assets A,B [--from T] [--to T]) [--bins N (default 20)] " + Connection;

    private static readonly string[] Common = ["target", "api-key", "tls-ca", "name"];

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        if (args.Length == 0)
        {
            throw new UsageException("models needs a subcommand: list, show, register, alias, tag, shadow, split, promote or profile (try 'marketintel models --help')");
        }
        string sub = args[0];
        // promote takes its model name first, as in "models promote direction --challenger v2" (or --name).
        string? positionalName = null;
        if (sub == "promote" && args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal))
        {
            positionalName = args[1];
            args = args[1..];
        }
        CliArguments options = sub switch
        {
            "list" => CliArguments.Parse(args[1..], ["target", "api-key", "tls-ca"]),
            "show" => CliArguments.Parse(args[1..], Common),
            "register" => CliArguments.Parse(args[1..], [.. Common, "version", "model", "lineage", "alias"]),
            "alias" => CliArguments.Parse(args[1..], [.. Common, "alias", "version"], ["remove"]),
            "tag" => CliArguments.Parse(args[1..], [.. Common, "version"], repeatable: ["set", "remove"]),
            "shadow" => CliArguments.Parse(args[1..], [.. Common, "version"], ["remove"]),
            "split" => CliArguments.Parse(args[1..], [.. Common, "alias", "version", "weight"], ["end"]),
            "promote" => CliArguments.Parse(args[1..], [.. Common, "challenger", "alias"], ["json"]),
            "profile" => CliArguments.Parse(args[1..], [.. Common, "version", "profile", "matrix", "assets", "from", "to", "bins"]),
            _ => throw new UsageException($"unknown subcommand '{sub}' (list, show, register, alias, tag, shadow, split, promote, profile or scores)"),
        };
        string target = options.Required("target");
        // Files are read and options checked before anything is sent.
        Func<IModelRegistryClient, Task> call = sub switch
        {
            "list" => async client => List(stdout, await client.ListAsync(new ListModelsRequest())),
            "show" => Show(options, stdout),
            "register" => Register(options, stdout),
            "alias" => Alias(options, stdout),
            "tag" => Tag(options, stdout),
            "shadow" => Shadow(options, stdout),
            "promote" => Promote(options, positionalName, stdout),
            "profile" => Profile(options, stdout),
            _ => Split(options, stdout),
        };
        using IModelRegistryClient client = ModelRegistryClient.For(target, options);
        call(client).GetAwaiter().GetResult();
        return 0;
    }

    private static Func<IModelRegistryClient, Task> Show(CliArguments options, TextWriter stdout)
    {
        string name = options.Required("name");
        return async client => Print(stdout, await client.GetAsync(new GetModelRequest { Name = name }));
    }

    private static Func<IModelRegistryClient, Task> Register(CliArguments options, TextWriter stdout)
    {
        string file = options.Required("model");
        string? lineageFile = options.Optional("lineage");
        if (lineageFile is null && File.Exists(file + ".lineage.json"))
        {
            lineageFile = file + ".lineage.json";
        }
        var request = new RegisterVersionRequest
        {
            Name = options.Required("name"),
            Version = options.Required("version"),
            Model = ByteString.CopyFrom(Read(file, "--model")),
            Lineage = lineageFile is null ? "" : File.ReadAllText(Existing(lineageFile, "--lineage")),
            Alias = options.Optional("alias") ?? "",
        };
        if (lineageFile is not null)
        {
            CheckLineage(request, lineageFile);
        }
        return async client =>
        {
            ModelVersion version = await client.RegisterAsync(request);
            stdout.WriteLine($"registered {version.Info.Name}@{version.Info.Version} (sha256 {version.Sha256[..12]}, label {Or(version.Label)}" +
                (lineageFile is null ? ", no lineage" : $", lineage from {lineageFile}") + (request.Alias.Length > 0 ? $", alias {request.Alias}" : "") + ")");
        };
    }

    // Checked here as the registry checks it, before anything is sent: over HTTP the model file and its lineage are two
    // calls, and a lineage refused after its model was accepted would leave the version registered without one.
    private static void CheckLineage(RegisterVersionRequest request, string lineageFile)
    {
        var key = new ModelRef(request.Name, request.Version);
        byte[] bytes = request.Model.ToByteArray();
        Abstractions.ModelInfo info;
        using (Model model = Model.Load(bytes, key.ToString()))
        {
            info = new Abstractions.ModelInfo(key, model.Kind, model.FeatureNames?.ToArray(), model.FeatureCount, [.. model.OutputNames]);
        }
        try
        {
            Abstractions.Models.LineageCheck.Label(request.Lineage, info, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }
        catch (GridException e)
        {
            throw new UsageException($"--lineage {lineageFile}: {e.Message}");
        }
    }

    private static Func<IModelRegistryClient, Task> Alias(CliArguments options, TextWriter stdout)
    {
        string name = options.Required("name");
        string alias = options.Required("alias");
        string? version = options.Optional("version");
        bool remove = options.Flag("remove");
        if (remove == (version is not null))
        {
            throw new UsageException("models alias: give --version V to point the alias at a version, or --remove to remove it");
        }
        return async client => PrintDeployment(stdout, remove
            ? await client.RemoveAliasAsync(new RemoveAliasRequest { Name = name, Alias = alias })
            : await client.SetAliasAsync(new SetAliasRequest { Name = name, Alias = alias, Version = version }));
    }

    private static Func<IModelRegistryClient, Task> Tag(CliArguments options, TextWriter stdout)
    {
        var request = new SetTagsRequest { Name = options.Required("name"), Version = options.Required("version") };
        foreach (string pair in options.All("set"))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"models tag: --set '{pair}' must be KEY=VALUE");
            }
            request.Set[pair[..equals]] = pair[(equals + 1)..];
        }
        request.Remove.AddRange(options.All("remove"));
        if (request.Set.Count == 0 && request.Remove.Count == 0)
        {
            throw new UsageException("models tag: give --set KEY=VALUE or --remove KEY (each may repeat)");
        }
        return async client =>
        {
            ModelVersion version = await client.SetTagsAsync(request);
            stdout.WriteLine($"{version.Info.Name}@{version.Info.Version}: tags {Tags(version)}");
        };
    }

    private static Func<IModelRegistryClient, Task> Shadow(CliArguments options, TextWriter stdout)
    {
        var request = new SetShadowRequest { Name = options.Required("name"), Version = options.Required("version"), Shadow = !options.Flag("remove") };
        return async client => PrintDeployment(stdout, await client.SetShadowAsync(request));
    }

    private static Func<IModelRegistryClient, Task> Split(CliArguments options, TextWriter stdout)
    {
        var request = new SetSplitRequest { Name = options.Required("name"), Alias = options.Required("alias") };
        if (options.Flag("end"))
        {
            if (options.Optional("version") is not null || options.Optional("weight") is not null)
            {
                throw new UsageException("models split: --end takes no --version or --weight");
            }
        }
        else
        {
            request.Version = options.Required("version");
            request.Weight = options.OptionalDouble("weight") is { } weight && weight is > 0 and < 1 ? weight
                : throw new UsageException("models split: --weight W (the second version's share of the alias's assets, between 0 and 1) is required, or --end");
        }
        return async client => PrintDeployment(stdout, await client.SetSplitAsync(request));
    }

    private static Func<IModelRegistryClient, Task> Promote(CliArguments options, string? positionalName, TextWriter stdout)
    {
        string name = positionalName is not null
            ? options.Optional("name") is null ? positionalName : throw new UsageException("models promote: give the model name once, first or as --name")
            : options.Required("name");
        var request = new PromoteRequest { Name = name, Challenger = options.Required("challenger"), Alias = options.Optional("alias") ?? "" };
        bool json = options.Flag("json");
        return async client =>
        {
            PromotionDecisionMessage decision = await client.PromoteAsync(request);
            if (json)
            {
                // The statistics in name order, as the text below and the HTTP API have them, whichever way they came.
                PromotionDecisionMessage ordered = decision.Clone();
                ordered.Statistics.Clear();
                foreach (var (statistic, value) in decision.Statistics.OrderBy(s => s.Key, StringComparer.Ordinal))
                {
                    ordered.Statistics[statistic] = value;
                }
                stdout.WriteLine(Google.Protobuf.JsonFormatter.Default.Format(ordered));
                return;
            }
            stdout.WriteLine($"{decision.Name}: {decision.Challenger} {(decision.Promoted ? "promoted" : "not promoted")} to {decision.Alias} (was {decision.Champion}) on {decision.Pairs} paired outcomes");
            stdout.WriteLine($"  {decision.Reason}");
            foreach (var (statistic, value) in decision.Statistics.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {statistic} = {value:G6}"));
            }
        };
    }

    // One of three sources, each read and checked here before anything is sent.
    private static Func<IModelRegistryClient, Task> Profile(CliArguments options, TextWriter stdout)
    {
        string name = options.Required("name");
        string version = options.Required("version");
        string? profile = options.Optional("profile"), matrix = options.Optional("matrix"), assets = options.Optional("assets");
        if ((profile is null ? 0 : 1) + (matrix is null ? 0 : 1) + (assets is null ? 0 : 1) != 1)
        {
            throw new UsageException("models profile: give one of --profile FILE.json, --matrix FILE.csv or --assets A,B");
        }
        if (assets is null && (options.Optional("from") is not null || options.Optional("to") is not null))
        {
            throw new UsageException("models profile: --from and --to go with --assets (a range of the archive's bars)");
        }
        int bins = options.OptionalInt("bins", 1, MarketIntel.Training.Drift.FeatureReference.MaxBins) ?? 0;  // 0: the grid's default
        if (profile is not null && bins != 0)
        {
            throw new UsageException("models profile: --bins goes with --matrix or --assets (a profile file has its bins already)");
        }
        Func<IModelRegistryClient, Task<ModelVersion>> send;
        string what;
        if (assets is not null)
        {
            var request = new ProfileFromArchiveRequest { Name = name, Version = version, Bins = bins };
            request.Assets.AddRange(assets.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            if (request.Assets.Count == 0)
            {
                throw new UsageException("models profile: --assets needs at least one asset symbol (A,B,...)");
            }
            request.From = options.Optional("from") is { } from ? BarTimestamps.ParseOption(from, "--from") : 0;
            request.To = options.Optional("to") is { } to ? BarTimestamps.ParseOption(to, "--to") : 0;
            if (request.To != 0 && request.From > request.To)
            {
                throw new UsageException($"models profile: --from {options.Optional("from")} is after --to {options.Optional("to")}");
            }
            send = async client => await client.ProfileFromArchiveAsync(request);
            what = $"the archive's bars of {string.Join(",", request.Assets)}";
        }
        else
        {
            var request = new SetProfileRequest { Name = name, Version = version, Bins = bins };
            if (profile is not null)
            {
                request.Profile = File.ReadAllText(Existing(profile, "--profile"));
                what = profile;
            }
            else
            {
                request.MatrixCsv = File.ReadAllText(Existing(matrix!, "--matrix"));
                what = matrix!;
            }
            send = async client => await client.SetProfileAsync(request);
        }
        return async client =>
        {
            ModelVersion set = await send(client);
            stdout.WriteLine($"{set.Info.Name}@{set.Info.Version}: reference profile set from {what}");
        };
    }

    private static string Existing(string path, string option) =>
        File.Exists(path) ? path : throw new UsageException($"{option}: file '{path}' does not exist");

    private static byte[] Read(string path, string option) => File.ReadAllBytes(Existing(path, option));

    private static string Or(string text) => text.Length == 0 ? "none" : text;

    private static string Tags(ModelVersion version) =>
        version.Tags.Count == 0 ? "none" : string.Join(", ", version.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"));

    private static void List(TextWriter stdout, ListModelsReply reply)
    {
        if (reply.Models.Count == 0)
        {
            stdout.WriteLine("no model is registered");
        }
        foreach (RegisteredModel model in reply.Models)
        {
            stdout.WriteLine($"{model.Name}: {model.Versions.Count} version(s) ({string.Join(", ", model.Versions.Select(v => v.Info.Version))}); {Deployment(model.Deployment)}");
        }
    }

    private static void Print(TextWriter stdout, RegisteredModel model)
    {
        stdout.WriteLine($"{model.Name}: {Deployment(model.Deployment)}");
        foreach (ModelVersion version in model.Versions)
        {
            string created = DateTimeOffset.FromUnixTimeMilliseconds(version.CreatedAt).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            stdout.WriteLine($"  {version.Info.Version}: {version.Info.Kind}, {version.Info.FeatureCount} features, label {Or(version.Label)}, sha256 {version.Sha256[..12]}, " +
                $"created {created}, tags {Tags(version)}, {(version.Lineage.Length == 0 ? "no lineage" : "lineage")}, {(version.HasProfile ? "reference profile" : "no reference profile")}");
        }
    }

    private static void PrintDeployment(TextWriter stdout, DeploymentInfo deployment) => stdout.WriteLine($"{deployment.Name}: {Deployment(deployment)}");

    private static string Deployment(DeploymentInfo deployment)
    {
        string aliases = deployment.Aliases.Count == 0 ? "no aliases" : "aliases " + string.Join(", ", deployment.Aliases.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a =>
            $"{a.Key} -> {a.Value.Version}" +
            (a.Value.SplitVersion.Length > 0 ? string.Create(CultureInfo.InvariantCulture, $" (split: {a.Value.SplitWeight:0.###} to {a.Value.SplitVersion})") : "") +
            (a.Value.AutoPromote ? " (auto-promote)" : "")));
        string shadows = deployment.Shadows.Count == 0 ? "no shadows" : "shadows " + string.Join(", ", deployment.Shadows);
        return $"{aliases}; {shadows}";
    }
}
