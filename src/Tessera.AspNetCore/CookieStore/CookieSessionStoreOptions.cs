namespace Tessera.AspNetCore.CookieStore;

/// <summary>Options of <see cref="CookieSessionStore"/>, set through <c>UseCookieStore(o =&gt; ...)</c>.</summary>
public sealed class CookieSessionStoreOptions
{
    /// <summary>The default of <see cref="MaxChunks"/>: 4 cookies, about 16 KB of cookie text (<see cref="CookieSessionStoreDefaults.MaxChunks"/>).</summary>
    public const int DefaultMaxChunks = CookieSessionStoreDefaults.MaxChunks;

    /// <summary>The largest <see cref="ReplacedCookieGraceWindow"/> accepted: 1 minute.</summary>
    public static readonly TimeSpan MaxReplacedCookieGraceWindow = TimeSpan.FromMinutes(1);

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
    /// own), in which the cookie store keeps, per session id, a small record saying that the session was ended, which
    /// credential is its current one, and which version of its cookies is current, until the session's absolute expiry
    /// (that store's cleanup removes it afterwards). With it, signing out, destroying, regenerating and revoking by id
    /// end the old cookies everywhere, and a replayed older copy of a session's cookies is refused once a later write
    /// replaced it (after <see cref="ReplacedCookieGraceWindow"/>), at the price of one read of this store per request
    /// that loads a session and one read and one write per cookie write (a new session's first: one write): the cookie
    /// store is then no longer stateless. Default <see langword="null"/>: no list, a copied cookie stays valid until
    /// it expires, and a client can restore any earlier state of its own session by sending its earlier cookies.
    /// </summary>
    public ISessionStore? RevocationStore { get; set; }

    /// <summary>
    /// With a <see cref="RevocationStore"/>, how long a session's cookies still load after a later write of that
    /// session replaced them: a request that was already on its way with them when the write committed (a page's
    /// parallel requests, a slow upload) must not find the user signed out. After it, a replayed older copy is no
    /// session. Default <see cref="CookieSessionStoreDefaults.ReplacedCookieGraceWindow"/> (5 seconds); 0 refuses at
    /// once (parallel requests of one page may then see no session); at most
    /// <see cref="MaxReplacedCookieGraceWindow"/>. Within it a client can go back one state on purpose: it bounds
    /// replay in time, it cannot make the cookie store safe for one-time flags.
    /// </summary>
    public TimeSpan ReplacedCookieGraceWindow { get; set; } = CookieSessionStoreDefaults.ReplacedCookieGraceWindow;

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="MaxChunks"/> or <see cref="ReplacedCookieGraceWindow"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><see cref="RevocationStore"/> is itself a cookie store.</exception>
    internal void Validate()
    {
        if (MaxChunks is < 1 or > MaxMaxChunks)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxChunks), MaxChunks, $"The cookie store's MaxChunks must be between 1 and {MaxMaxChunks}.");
        }
        if (ReplacedCookieGraceWindow < TimeSpan.Zero || ReplacedCookieGraceWindow > MaxReplacedCookieGraceWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(ReplacedCookieGraceWindow), ReplacedCookieGraceWindow, "The cookie store's ReplacedCookieGraceWindow must be between 0 and 1 minute.");
        }
        if (RevocationStore is CookieSessionStore)
        {
            throw new ArgumentException("The cookie store's RevocationStore must keep its records on the server, not in cookies.", nameof(RevocationStore));
        }
    }
}
