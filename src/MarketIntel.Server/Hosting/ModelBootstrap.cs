using System.Security.Cryptography;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Inference;
using MarketIntel.Server.Application;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Hosting;

/// <summary>
/// Registers the configured model files once the silo runs (name: the file name; version: the start of the
/// bytes' SHA-256, so registering the same file again is a no-op) and makes the last one the default. A model that
/// <c>train</c> or <c>backtest</c> saved has its lineage next to it (<c>MODEL.lineage.json</c>): it is registered
/// with it, so the version is scored live by its label and measured for drift against the profile it carries.
/// </summary>
internal sealed partial class ModelBootstrap(IOptions<ServerOptions> options, GridOperations operations, ModelOperations models, ILogger<ModelBootstrap> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ModelRef? last = null;
        foreach (string path in options.Value.Models)
        {
            // Loaded here first so that a bad file is reported by its path.
            byte[] bytes = await File.ReadAllBytesAsync(path, cancellationToken);
            Model.Load(bytes, path).Dispose();
            ModelRef model = ModelFor(path, bytes);
            await operations.RegisterModel(model, bytes, makeDefault: false);
            LogRegistered(model, path);
            string lineagePath = path + Training.ModelLineage.FileSuffix;
            if (File.Exists(lineagePath))
            {
                // Set once per version: the same lineage again (a restart) changes nothing.
                await models.SetLineage(model, await File.ReadAllTextAsync(lineagePath, cancellationToken), ModelAudit.LocalClient);
                LogLineage(model, lineagePath);
            }
            last = model;
        }
        if (last is not null)
        {
            await operations.SetDefault(last);
            LogDefault(last);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The name and version a model file is registered under.</summary>
    public static ModelRef ModelFor(string path, byte[] bytes)
    {
        string name = Path.GetFileName(path);
        foreach (string extension in new[] { ".json", ".onnx" })
        {
            if (name.EndsWith(extension, StringComparison.OrdinalIgnoreCase) && name.Length > extension.Length)
            {
                name = name[..^extension.Length];
            }
        }
        return new ModelRef(name.Replace('@', '_'), Convert.ToHexStringLower(SHA256.HashData(bytes))[..12]);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered model {Model} from {Path}")]
    private partial void LogRegistered(ModelRef model, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered the lineage of {Model} from {Path}")]
    private partial void LogLineage(ModelRef model, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Default model is {Model}")]
    private partial void LogDefault(ModelRef model);
}
