using System.Security.Cryptography;

namespace Tessera;

/// <summary>Session and token ids.</summary>
internal static class SessionIds
{
    /// <summary>
    /// A new random id in UUID version 4 form (122 random bits from the OS generator): unguessable, and the shape
    /// Compas's PostgreSQL tables use for session and token ids.
    /// </summary>
    public static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 (Guid's byte order puts the version in byte 7)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes).ToString("D");
    }
}
