using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MarketIntel.Cli.Tests;

/// <summary>A test CA of the tests' own and a server certificate it signed, as the PEM files a grid and its clients read.</summary>
internal static class TestCertificates
{
    /// <summary>
    /// Writes <c>{name}-ca.pem</c>, <c>{name}-server.pem</c> and <c>{name}-server.key</c> into <paramref name="folder"/>:
    /// a CA, and a certificate for 127.0.0.1 and localhost signed by it.
    /// </summary>
    public static (string Ca, string Certificate, string Key) Make(string folder, string name = "test")
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=MarketIntel {name} CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using X509Certificate2 ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using X509Certificate2 server = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(12), [1, 2, 3, 4]);

        string caFile = Path.Combine(folder, $"{name}-ca.pem"), certificateFile = Path.Combine(folder, $"{name}-server.pem"), keyFile = Path.Combine(folder, $"{name}-server.key");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        File.WriteAllText(certificateFile, server.ExportCertificatePem());
        File.WriteAllText(keyFile, serverKey.ExportPkcs8PrivateKeyPem());
        return (caFile, certificateFile, keyFile);
    }
}
