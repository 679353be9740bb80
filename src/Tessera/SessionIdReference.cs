using System.Security.Cryptography;
using System.Text;

namespace Tessera;

/// <summary>
/// The one way Tessera names a session in a log line, an exception message or a metric: a short, stable,
/// non-reversible reference instead of the id itself. Stores (Tessera's own and custom ones) use it so their log lines
/// line up with the core's for the same session.
/// </summary>
public static class SessionIdReference
{
    /// <summary>
    /// The first 8 hex digits (lower case) of the SHA-256 of the id's UTF-8 bytes: the same id always gives the same
    /// reference, and the reference does not reveal the id.
    /// </summary>
    /// <param name="sessionId">The session id; <see langword="null"/> or empty (a session not created yet) gives <c>(new)</c>.</param>
    /// <returns>The reference, for example <c>3fa85f64</c>.</returns>
    public static string Of(string? sessionId)
    {
        if (string.IsNullOrEmpty(sessionId))
        {
            return "(new)";
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(sessionId), hash);
        return Convert.ToHexStringLower(hash[..4]);
    }
}
