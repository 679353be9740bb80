using System.Security.Cryptography;

namespace Tessera;

/// <summary>Session and token ids.</summary>
internal static class SessionIds
{
    /// <summary>
    /// A new random id in UUID version 4 form (122 random bits from the OS generator): unguessable, and the shape
    /// Compas's PostgreSQL tables use for session and token ids. Token ids are made by
    /// <see cref="SessionRoute.NewTokenId"/> instead, which gives 16 of these bits to the session's route.
    /// </summary>
    public static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        MarkVersion4(bytes);
        return new Guid(bytes).ToString("D");
    }

    /// <summary>Sets the version (4) and variant (RFC 4122) bits of a Guid's 16 bytes, in Guid's byte order.</summary>
    public static void MarkVersion4(Span<byte> bytes)
    {
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 (Guid's byte order puts the version in byte 7)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
    }
}
