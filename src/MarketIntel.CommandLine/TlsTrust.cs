using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace MarketIntel.CommandLine;

/// <summary>
/// Trust for a server certificate issued by a CA of the operator's own (or self-signed), named with
/// <c>--tls-ca FILE</c>: the chain must end in that certificate, and the name must match as usual.
/// </summary>
public static class TlsTrust
{
    /// <summary>A certificate check that trusts the CA in <paramref name="caFile"/> (PEM) besides the system's roots; a usage error when the file holds no certificate.</summary>
    public static RemoteCertificateValidationCallback Validator(string caFile)
    {
        X509Certificate2Collection roots = [];
        roots.ImportFromPemFile(caFile);
        if (roots.Count == 0)
        {
            throw new UsageException($"--tls-ca: '{caFile}' holds no PEM certificate");
        }
        return (_, certificate, _, errors) =>
        {
            if (errors == SslPolicyErrors.None)
            {
                return true;
            }
            // A wrong name or a missing certificate is never forgiven; only the chain is checked again, against the CA.
            if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0 || certificate is null)
            {
                return false;
            }
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
    }
}
