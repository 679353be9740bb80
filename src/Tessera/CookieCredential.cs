using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Tessera;

/// <summary>Why a presented credential was not accepted. Logged as a reason; the credential itself never is.</summary>
public enum CredentialRejection
{
    /// <summary>The credential was accepted.</summary>
    None = 0,

    /// <summary>The credential was empty or whitespace.</summary>
    Empty,

    /// <summary>The credential was longer than any valid one; rejected before any other work.</summary>
    TooLong,

    /// <summary>The credential did not have the expected shape or encoding.</summary>
    Malformed,

    /// <summary>No key of the ring produced the credential's signature (tampered, or signed by an unknown key).</summary>
    BadSignature,
}

/// <summary>
/// The cookie credential: a 32-byte token, then a dot, then an HMAC-SHA256 of the token under the key ring's signing
/// key, both in unpadded base64url (87 characters in all). The token's first two bytes are the session's
/// <see cref="SessionRoute"/> (big-endian), so a store sharded by session finds the session's shard from the cookie;
/// the other 30 bytes (240 bits) come from the OS generator. The store keeps only the SHA-256 of the token, so a copy
/// of the store cannot be replayed as cookies.
/// </summary>
/// <remarks>
/// The route is covered by the signature like the rest of the token: a client that changes it fails verification. A
/// cookie issued before tokens carried routes still verifies; the route read from it is two random bytes, which only a
/// routed store (<see cref="IRoutedSessionStore"/>) looks at. Thread-safe. Built with a cache size, it remembers that
/// many credentials that passed (by their exact text, with their hash and route), so the same text presented again is
/// not verified again until the key ring is replaced.
/// </remarks>
public sealed class CookieCredential
{
    /// <summary>Bytes in a token: the 2-byte route, then 30 random bytes.</summary>
    public const int TokenBytes = 32;

    /// <summary>Bytes at the start of a token that hold the session's route.</summary>
    public const int RouteBytes = 2;

    /// <summary>The exact length of a credential's text form.</summary>
    public const int EncodedLength = 43 + 1 + 43;

    private static readonly byte[] Purpose = Encoding.ASCII.GetBytes("tessera.cookie.v1\0");

    private readonly SigningKeyRing _keys;
    private readonly VerifiedTextCache<VerifiedCookie> _verified;

    /// <summary>Creates the format over a key ring; it remembers no verified credential (every check is in full).</summary>
    /// <param name="keys">The key ring; its first key signs.</param>
    public CookieCredential(SigningKeyRing keys)
        : this(keys, verifiedCacheSize: 0)
    {
    }

    /// <summary>
    /// Creates the format over a key ring, remembering up to <paramref name="verifiedCacheSize"/> credentials that passed
    /// (<see cref="TesseraOptions.VerifiedCredentialCacheSize"/>): the same text again gives the same hash and route
    /// without its HMAC and hash being computed again, until the ring's keys are replaced.
    /// </summary>
    /// <param name="keys">The key ring; its first key signs.</param>
    /// <param name="verifiedCacheSize">How many verified texts to remember, 0 to 1,000,000; 0 remembers none.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="verifiedCacheSize"/> is negative or above 1,000,000.</exception>
    public CookieCredential(SigningKeyRing keys, int verifiedCacheSize)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentOutOfRangeException.ThrowIfNegative(verifiedCacheSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(verifiedCacheSize, 1_000_000);
        _keys = keys;
        _verified = new VerifiedTextCache<VerifiedCookie>(verifiedCacheSize);
    }

    // What a verified credential gave: the store hash (copied out on every use, so no caller shares the array) and route.
    private sealed record VerifiedCookie(byte[] Hash, SessionRoute Route);

    /// <summary>How many verified credentials are remembered now (for tests).</summary>
    internal int RememberedCount => _verified.Count;

    /// <summary>Issues a new credential for a session.</summary>
    /// <param name="route">The route of the session that will hold the credential: <see cref="SessionRoute.Of"/> of its id.</param>
    /// <returns>The text to give the client and the hash to store.</returns>
    public IssuedCredential Issue(SessionRoute route)
    {
        Span<byte> token = stackalloc byte[TokenBytes];
        BinaryPrimitives.WriteUInt16BigEndian(token, route.Value);
        RandomNumberGenerator.Fill(token[RouteBytes..]);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Sign(_keys.Current, token, mac);
        var text = string.Concat(Base64UrlText.Encode(token), ".", Base64UrlText.Encode(mac));
        return new IssuedCredential(text, SHA256.HashData(token));
    }

    /// <summary>
    /// Verifies a presented credential against every key of the ring in constant time per key.
    /// </summary>
    /// <param name="text">The credential as the client sent it; <see langword="null"/> reads as empty.</param>
    /// <param name="credentialHash">On success, the SHA-256 to look the session up by.</param>
    /// <returns><see cref="CredentialRejection.None"/> when valid; otherwise why not.</returns>
    public CredentialRejection Verify(string? text, out byte[]? credentialHash) => Verify(text, out credentialHash, out _);

    /// <summary>
    /// Verifies a presented credential against every key of the ring in constant time per key, and reads the route it
    /// carries.
    /// </summary>
    /// <param name="text">The credential as the client sent it; <see langword="null"/> reads as empty.</param>
    /// <param name="credentialHash">On success, the SHA-256 to look the session up by.</param>
    /// <param name="route">
    /// On success, the route the token carries (its first two bytes): the route of the session it was issued for, or two
    /// random bytes for a cookie issued before tokens carried routes. <see langword="default"/> on failure.
    /// </param>
    /// <returns><see cref="CredentialRejection.None"/> when valid; otherwise why not.</returns>
    public CredentialRejection Verify(string? text, out byte[]? credentialHash, out SessionRoute route)
    {
        credentialHash = null;
        route = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return CredentialRejection.Empty;
        }
        if (text.Length > EncodedLength)
        {
            return CredentialRejection.TooLong;
        }
        if (text.Length != EncodedLength || text[43] != '.')
        {
            return CredentialRejection.Malformed;
        }
        var ring = _keys.Keys;
        if (_verified.TryGet(text, ring, out var verified))
        {
            credentialHash = (byte[])verified.Hash.Clone();
            route = verified.Route;
            return CredentialRejection.None;
        }
        Span<byte> token = stackalloc byte[TokenBytes];
        Span<byte> presentedMac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (!Base64UrlText.TryDecodeExact(text.AsSpan(0, 43), token)
            || !Base64UrlText.TryDecodeExact(text.AsSpan(44), presentedMac))
        {
            return CredentialRejection.Malformed;
        }
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        var matched = false;
        foreach (var key in ring)
        {
            Sign(key, token, expected);
            // Every key is tried even after a match, so the time taken does not tell which key signed.
            matched |= CryptographicOperations.FixedTimeEquals(expected, presentedMac);
        }
        if (!matched)
        {
            return CredentialRejection.BadSignature;
        }
        credentialHash = SHA256.HashData(token);
        route = new SessionRoute(BinaryPrimitives.ReadUInt16BigEndian(token));
        if (_verified.Enabled)
        {
            _verified.Remember(text, ring, new VerifiedCookie((byte[])credentialHash.Clone(), route));
        }
        return CredentialRejection.None;
    }

    private static void Sign(SigningKey key, ReadOnlySpan<byte> token, Span<byte> destination)
    {
        Span<byte> message = stackalloc byte[Purpose.Length + TokenBytes];
        Purpose.CopyTo(message);
        token.CopyTo(message[Purpose.Length..]);
        key.Mac(message, destination);
    }
}

/// <summary>A freshly issued credential.</summary>
/// <param name="Value">The text the client holds (a secret: never log it).</param>
/// <param name="Hash">The SHA-256 the store keeps.</param>
public sealed record IssuedCredential(string Value, byte[] Hash)
{
    /// <summary>Hides the secret value.</summary>
    /// <returns>A description without the value.</returns>
    public override string ToString() => "IssuedCredential(***)";
}
