using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tessera.Testing.OpenIdConnect;

/// <summary>
/// A self-signed TLS certificate made at run time for <c>localhost</c> and <c>127.0.0.1</c>, and HTTP handlers that
/// trust it and nothing else: the test's servers speak HTTPS without any change to the machine's trust store.
/// </summary>
public sealed class TestCertificate : IDisposable
{
    private TestCertificate(X509Certificate2 certificate) => Certificate = certificate;

    /// <summary>The certificate, with its private key (Kestrel serves it).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Makes a certificate valid from a day ago for a day (real time: TLS checks the machine's clock).</summary>
    /// <returns>The certificate.</returns>
    public static TestCertificate Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Tessera test server", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        return new TestCertificate(request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1)));
    }

    /// <summary>
    /// A handler that validates server certificates as usual (chain and host name) against this certificate as its only
    /// trusted root; it follows no redirect and keeps no cookie (the caller does both by hand).
    /// </summary>
    /// <returns>The handler.</returns>
    public SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        SslOptions = new SslClientAuthenticationOptions
        {
            CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { Certificate },
                RevocationMode = X509RevocationMode.NoCheck,
            },
        },
    };

    /// <inheritdoc />
    public void Dispose() => Certificate.Dispose();
}
