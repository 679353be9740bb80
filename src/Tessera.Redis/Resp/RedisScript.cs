using System.Security.Cryptography;
using System.Text;

namespace Tessera.Redis.Resp;

/// <summary>
/// A Lua script run with <see cref="RedisConnection.EvaluateAsync"/>: sent as <c>EVALSHA</c> by its SHA-1, and as
/// <c>EVAL</c> (which also caches it on the server) only when the server answers <c>NOSCRIPT</c>, for example after a
/// restart or <c>SCRIPT FLUSH</c>. Create one instance per script and keep it.
/// </summary>
public sealed class RedisScript
{
    /// <summary>Creates a script and computes its SHA-1.</summary>
    /// <param name="text">The Lua source.</param>
    public RedisScript(string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        Text = text;
#pragma warning disable CA5350 // SHA-1 is how Redis names scripts; it is an identifier here, not a security measure.
        Sha1 = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5350
    }

    /// <summary>The Lua source.</summary>
    public string Text { get; }

    /// <summary>The script's SHA-1 in lowercase hex, as <c>SCRIPT LOAD</c> returns it.</summary>
    public string Sha1 { get; }
}
