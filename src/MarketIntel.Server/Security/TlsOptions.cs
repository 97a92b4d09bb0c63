using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Security;

/// <summary>
/// TLS for both the HTTP and the gRPC port (configuration section <c>Tls</c>): a PEM certificate with its PEM key, or
/// a PKCS#12 file (<c>.pfx</c>, <c>.p12</c>) holding both. Unset: both ports speak plain HTTP, which is for loopback
/// and private networks.
/// </summary>
public sealed class TlsOptions
{
    public const string Section = "Tls";

    /// <summary>The certificate: a PEM file (with <see cref="KeyFile"/>), or a PKCS#12 file with its key inside.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>The PEM private key of a PEM certificate (unencrypted, or encrypted with <see cref="Password"/>).</summary>
    public string? KeyFile { get; set; }

    /// <summary>The password of a PKCS#12 file or an encrypted PEM key; never logged.</summary>
    public string? Password { get; set; }

    /// <summary>Whether the ports speak TLS.</summary>
    public bool IsOn => !string.IsNullOrEmpty(CertificateFile);

    /// <summary>Loads the certificate with its private key, or throws naming the setting at fault.</summary>
    public X509Certificate2 Load()
    {
        string file = CertificateFile ?? throw new InvalidOperationException($"{Section}:CertificateFile is not set");
        foreach (var (setting, path) in new[] { ("CertificateFile", file), ("KeyFile", KeyFile) })
        {
            if (!string.IsNullOrEmpty(path) && !File.Exists(path))
            {
                throw new TlsSettingException($"{Section}:{setting} '{path}' does not exist");
            }
        }
        try
        {
            string extension = Path.GetExtension(file).ToLowerInvariant();
            X509Certificate2 certificate = extension is ".pfx" or ".p12"
                ? X509CertificateLoader.LoadPkcs12FromFile(file, Password)
                : string.IsNullOrEmpty(KeyFile)
                    ? throw new TlsSettingException($"{Section}:KeyFile: a PEM certificate needs its private key (--tls-key FILE)")
                    : string.IsNullOrEmpty(Password)
                        ? X509Certificate2.CreateFromPemFile(file, KeyFile)
                        : X509Certificate2.CreateFromEncryptedPemFile(file, Password, KeyFile);
            if (!certificate.HasPrivateKey)
            {
                certificate.Dispose();
                throw new TlsSettingException($"{Section}:CertificateFile '{file}' holds no private key");
            }
            return certificate;
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new TlsSettingException(
                $"{Section}:CertificateFile '{file}'{(string.IsNullOrEmpty(KeyFile) ? "" : $" with key '{KeyFile}'")} cannot be loaded (a wrong password, or not a certificate and key): {FirstLine(e.Message)}");
        }
    }

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}

/// <summary>Checks <see cref="TlsOptions"/> at start by loading the certificate, naming the setting at fault.</summary>
public sealed class TlsOptionsValidator : IValidateOptions<TlsOptions>
{
    public ValidateOptionsResult Validate(string? name, TlsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.IsOn)
        {
            return string.IsNullOrEmpty(options.KeyFile)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"{TlsOptions.Section}:KeyFile is set without {TlsOptions.Section}:CertificateFile (--tls-cert FILE)");
        }
        try
        {
            options.Load().Dispose();
            return ValidateOptionsResult.Success;
        }
        catch (TlsSettingException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}

/// <summary>A TLS setting the silo cannot start with.</summary>
public sealed class TlsSettingException : Exception
{
    public TlsSettingException()
    {
    }

    public TlsSettingException(string message)
        : base(message)
    {
    }

    public TlsSettingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
