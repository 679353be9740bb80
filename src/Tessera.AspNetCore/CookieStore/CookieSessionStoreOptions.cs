namespace Tessera.AspNetCore.CookieStore;

/// <summary>Options of <see cref="CookieSessionStore"/>, set through <c>UseCookieStore(o =&gt; ...)</c>.</summary>
public sealed class CookieSessionStoreOptions
{
    /// <summary>The default of <see cref="MaxChunks"/>: 4 cookies, about 16 KB of cookie text.</summary>
    public const int DefaultMaxChunks = 4;

    /// <summary>The largest <see cref="MaxChunks"/> accepted: 16 (about 64 KB of cookie text on every request).</summary>
    public const int MaxMaxChunks = 16;

    /// <summary>
    /// The most chunk cookies (<c>&lt;cookie name&gt;.0</c>, <c>.1</c>, ...) one session may take. Default
    /// <see cref="DefaultMaxChunks"/> (4): each chunk is one cookie of at most 4,096 bytes, and the browser sends all of
    /// them with every request to the site, so 4 chunks add about 16 KB to each request's headers: under Kestrel's
    /// 32 KB limit on request headers with room for the rest, but over the 8 KB a single header line may have behind
    /// nginx's defaults (<c>large_client_header_buffers 4 8k</c>). At least 1, at most <see cref="MaxMaxChunks"/>. A
    /// commit whose session would need more throws <see cref="SessionDataTooLargeException"/> (the middleware answers
    /// 413 and writes nothing). Lowering it never signs anyone out: the bound applies to writing.
    /// </summary>
    public int MaxChunks { get; set; } = DefaultMaxChunks;

    /// <summary>
    /// An optional server-side revocation list: any <see cref="ISessionStore"/> (say, a SQLite or Redis store of its
    /// own), in which the cookie store keeps, per session id, a small record saying that the session was ended or
    /// which credential is its current one, until the session's absolute expiry (that store's cleanup removes it
    /// afterwards). With it, signing out, destroying, regenerating and revoking by id end the old cookies everywhere,
    /// at the price of one read of this store per request that loads a session: the cookie store is then no longer
    /// stateless. Default <see langword="null"/>: no list, and a copied cookie stays valid until it expires.
    /// </summary>
    public ISessionStore? RevocationStore { get; set; }

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="MaxChunks"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><see cref="RevocationStore"/> is itself a cookie store.</exception>
    internal void Validate()
    {
        if (MaxChunks is < 1 or > MaxMaxChunks)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxChunks), MaxChunks, $"The cookie store's MaxChunks must be between 1 and {MaxMaxChunks}.");
        }
        if (RevocationStore is CookieSessionStore)
        {
            throw new ArgumentException("The cookie store's RevocationStore must keep its records on the server, not in cookies.", nameof(RevocationStore));
        }
    }
}
