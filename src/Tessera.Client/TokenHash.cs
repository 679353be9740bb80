using System.Security.Cryptography;
using System.Text;

namespace Tessera.Client;

/// <summary>How the client names a token in a log line or a message: never the token, 8 hex digits of its SHA-256.</summary>
internal static class TokenHash
{
    public static string Of(string token)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
        return Convert.ToHexStringLower(hash[..4]);
    }
}
