using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tessera;

/// <summary>
/// A session's routing tag: 16 bits derived from its id, carried by every credential of the session (a cookie token's
/// first two bytes, a token id's first four hex digits), so that a store sharded by session (a Redis Cluster) can find
/// a session's shard from the credential alone, without a lookup on another shard. The route only says where to look:
/// it is not secret and authenticates nothing (the credential's hash, or the JWT signature, does that).
/// </summary>
/// <param name="Value">The 16 bits.</param>
public readonly record struct SessionRoute(ushort Value)
{
    /// <summary>
    /// The route of a session id: the first four characters as a hexadecimal number when they are hex digits (in either
    /// case), as in every id Tessera makes (UUID text); otherwise a stable 16-bit hash of the whole id. Never throws for
    /// a non-null id; the empty id gets the hash of no bytes (0x1cd9).
    /// </summary>
    /// <remarks>
    /// The hash is 32-bit FNV-1a (offset basis 2166136261, prime 16777619) over the id's UTF-8 bytes, folded to 16 bits
    /// by XOR of its two halves. It depends on nothing but the id: the same in every process, on every platform and in
    /// every version of Tessera, since stored sessions are found by it. Changing it is a breaking change.
    /// </remarks>
    /// <param name="sessionId">The session id.</param>
    /// <returns>The route.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sessionId"/> is <see langword="null"/>.</exception>
    public static SessionRoute Of(string sessionId)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        if (sessionId.Length >= 4 && ushort.TryParse(sessionId.AsSpan(0, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var prefix))
        {
            return new SessionRoute(prefix);
        }
        return new SessionRoute(Fnv1a16(sessionId));
    }

    /// <summary>
    /// A new random token id for a session: UUID version 4 text (lowercase, with dashes), the form of every session id
    /// Tessera makes, whose first four hex digits are <see cref="Of"/>(<paramref name="sessionId"/>), so that
    /// <c>Of(NewTokenId(s)) == Of(s)</c> always holds and a store finds the token on its session's shard. The other 106
    /// bits come from the OS generator. Token ids are not secrets (a token is authenticated by its JWT signature), so
    /// the 16 bits given to the route cost nothing but uniqueness, which 106 random bits keep.
    /// </summary>
    /// <param name="sessionId">The id of the session the token belongs to.</param>
    /// <returns>The token id.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sessionId"/> is <see langword="null"/>.</exception>
    public static string NewTokenId(string sessionId)
    {
        var route = Of(sessionId);
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        SessionIds.MarkVersion4(bytes);
        // Guid's text starts with its first four bytes read little-endian: bytes 3 and 2 print first.
        bytes[3] = (byte)(route.Value >> 8);
        bytes[2] = (byte)route.Value;
        return new Guid(bytes).ToString("D");
    }

    /// <summary>The route as four lowercase hex digits, such as <c>0a3f</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Value.ToString("x4", CultureInfo.InvariantCulture);

    private static ushort Fnv1a16(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var hash = 2166136261u;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 16777619u;
        }
        return (ushort)((hash >> 16) ^ (hash & 0xFFFF));
    }
}
