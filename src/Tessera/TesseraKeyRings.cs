namespace Tessera;

/// <summary>
/// The key rings a <see cref="SessionManager"/> uses when they do not come from <see cref="TesseraOptions.Keys"/>:
/// <c>UseDataProtectionKeys()</c> registers one. Without one in the container, both rings are built from
/// <see cref="TesseraOptions.Keys"/>.
/// </summary>
/// <param name="credentials">Signs and verifies cookie credentials; the encrypted cookie store derives its keys from it.</param>
/// <param name="tokens">Signs and verifies access and refresh tokens (JWTs); may be the same ring as <paramref name="credentials"/>.</param>
public sealed class TesseraKeyRings(SigningKeyRing credentials, SigningKeyRing tokens)
{
    /// <summary>Signs and verifies cookie credentials; the encrypted cookie store derives its encryption keys from it.</summary>
    public SigningKeyRing Credentials { get; } = credentials ?? throw new ArgumentNullException(nameof(credentials));

    /// <summary>Signs and verifies access and refresh tokens (JWTs).</summary>
    public SigningKeyRing Tokens { get; } = tokens ?? throw new ArgumentNullException(nameof(tokens));
}
