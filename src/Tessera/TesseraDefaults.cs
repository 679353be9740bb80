namespace Tessera;

/// <summary>Every default of Tessera in one place.</summary>
public static class TesseraDefaults
{
    /// <summary>The idle timeout: 30 minutes (OWASP suggests 15 to 30 minutes for low-risk applications).</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The idle timeout of an anonymous session (one with no subject): 15 minutes, half of <see cref="IdleTimeout"/>. A
    /// visitor's cart outlives a coffee break; a flood of throwaway sessions leaves the store twice as fast as signed-in ones.
    /// </summary>
    public static readonly TimeSpan AnonymousIdleTimeout = TimeSpan.FromMinutes(15);

    /// <summary>The absolute lifetime: 8 hours (one working day; OWASP suggests 4 to 8 hours).</summary>
    public static readonly TimeSpan AbsoluteLifetime = TimeSpan.FromHours(8);

    /// <summary>
    /// The touch interval: 1 minute. The idle deadline is extended at most this often, so a stream of reads costs no
    /// writes; the effective idle timeout is therefore between <see cref="IdleTimeout"/> minus this and <see cref="IdleTimeout"/>.
    /// </summary>
    public static readonly TimeSpan TouchInterval = TimeSpan.FromMinutes(1);

    /// <summary>How often the cleanup service deletes expired sessions: every 5 minutes.</summary>
    public static readonly TimeSpan CleanupInterval = TimeSpan.FromMinutes(5);

    /// <summary>How many expired sessions one cleanup statement deletes at most: 1,000.</summary>
    public const int CleanupBatchSize = 1000;

    /// <summary>
    /// The pause between two cleanup batches of one background run: 10 milliseconds, so deleting a backlog of a million
    /// sessions shares the store (and the CPU) with requests instead of monopolizing it.
    /// </summary>
    public static readonly TimeSpan CleanupBatchPause = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// How long a request waits for one store call before giving up on it: 5 seconds. A load that takes longer leaves
    /// the request without a session; a commit that takes longer fails the request with 503.
    /// </summary>
    public static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The <c>Retry-After</c> of a 503 answered because the store failed: 5 seconds.</summary>
    public static readonly TimeSpan StoreRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The most data one session may hold: 64 KiB, counted as the UTF-8 bytes of every key and JSON value. Enough for
    /// a cart or a wizard's state many times over; a session is not a database.
    /// </summary>
    public const int MaxDataBytes = 64 * 1024;

    /// <summary>
    /// The most tabs one session keeps: 10 (a point-of-sale terminal's open sales, a user's open windows). Issuing one
    /// more closes the least recently used.
    /// </summary>
    public const int MaxTabsPerSession = 10;

    /// <summary>The request header that carries a tab id by default: <c>X-Tessera-Tab</c>.</summary>
    public const string TabHeaderName = "X-Tessera-Tab";

    /// <summary>The query parameter or route value that carries a tab id by default: <c>tab</c>.</summary>
    public const string TabParameterName = "tab";

    /// <summary>The in-memory store's bound: 100,000 sessions.</summary>
    public const int MemoryStoreMaxSessions = 100_000;

    /// <summary>
    /// The share of a bounded store's records that anonymous sessions may take when no anonymous bound is set: one half,
    /// so at least half of the bound is always left for signed-in sessions, whatever anonymous visitors do.
    /// </summary>
    public const int AnonymousShareDivisor = 2;

    /// <summary>The cookie name over HTTPS: <c>__Host-tessera</c> (the prefix pins it to this host, path / and Secure).</summary>
    public const string SecureCookieName = "__Host-tessera";

    /// <summary>The cookie name over plain HTTP in Development: <c>tessera</c> (browsers refuse <c>__Host-</c> without Secure).</summary>
    public const string DevelopmentCookieName = "tessera";

    /// <summary>
    /// Whether the request-origin guard refuses cross-origin unsafe requests that carry the session cookie: on
    /// (<see langword="true"/>), as the Fetch Metadata guidance recommends for cookie-authenticated applications.
    /// </summary>
    public const bool RequestOriginCheckEnabled = true;

    /// <summary>
    /// Whether the request-origin guard lets a same-site but cross-origin request through (a sibling subdomain, another
    /// port of the same host): no (<see langword="false"/>), since <c>SameSite=Lax</c> already lets those carry the cookie.
    /// </summary>
    public const bool RequestOriginAllowSameSite = false;

    /// <summary>The longest User-Agent kept in metadata: 512 characters.</summary>
    public const int MaxUserAgentLength = 512;

    /// <summary>An access token's lifetime: 5 minutes.</summary>
    public static readonly TimeSpan AccessTokenLifetime = TimeSpan.FromMinutes(5);

    /// <summary>A refresh token's lifetime: 1 day.</summary>
    public static readonly TimeSpan RefreshTokenLifetime = TimeSpan.FromDays(1);

    /// <summary>The absolute lifetime of a token session: 7 days.</summary>
    public static readonly TimeSpan TokenSessionLifetime = TimeSpan.FromDays(7);

    /// <summary>The clock skew allowed on token times: 30 seconds.</summary>
    public static readonly TimeSpan TokenClockSkew = TimeSpan.FromSeconds(30);

    /// <summary>The grace window in which a refresh retry gets the same successor pair: 5 seconds.</summary>
    public static readonly TimeSpan RefreshReuseGraceWindow = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a rotated token is kept after its own expiry: 1 minute. A store's rotation deletes the session's rotated
    /// tokens that expired longer ago than this, so a token session refreshed for days keeps only the tokens that could
    /// still be presented (a token past its expiry is refused before the store is asked, so keeping it would detect
    /// nothing), not one pair per refresh for its whole life. Twice the default clock skew; with a larger
    /// <c>Tessera:Tokens:ClockSkew</c> such a token is refused slightly earlier than the skew would allow, never later.
    /// </summary>
    public static readonly TimeSpan ExpiredTokenRetention = TimeSpan.FromMinutes(1);

    /// <summary>The longest token accepted: 4,096 characters.</summary>
    public const int MaxTokenLength = 4096;

    /// <summary>
    /// How many verified access tokens the codec remembers, so that a token presented again skips its signature check
    /// and parse: 4,096 (a few megabytes at most: a remembered token is about 1 KB with its text and claims).
    /// </summary>
    public const int VerifiedTokenCacheSize = 4096;

    /// <summary>
    /// How many verified session cookies are remembered, so that a cookie presented again skips its HMAC check and the
    /// hash of its token: 4,096 (under a megabyte: a remembered cookie is its 87-character text, its 32-byte hash and
    /// the table's entry).
    /// </summary>
    public const int VerifiedCredentialCacheSize = 4096;
}
