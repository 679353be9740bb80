namespace Tessera.Tokens;

/// <summary>Which JWT payload tokens carry.</summary>
public enum TokenProfile
{
    /// <summary>
    /// Tessera's payload: <c>{jti, sid, token_use, iat, exp}</c> with a <c>kid</c> header naming the signing key. The default.
    /// </summary>
    Tessera = 0,

    /// <summary>
    /// Compas's exact payload, <c>{exp, compasSessionAccessToken}</c> or <c>{exp, compasSessionRefreshToken}</c>, with the
    /// header <c>{alg: HS256, typ: JWT}</c> and no <c>kid</c> (every key of the ring is tried), so a Compas service and
    /// Tessera can share sessions.
    /// </summary>
    Compas = 1,
}

/// <summary>Options of token sessions (configuration section <c>Tessera:Tokens</c>). Validated at start-up.</summary>
public sealed class TesseraTokenOptions
{
    /// <summary>How long an access token lives. Default 5 minutes; positive and shorter than <see cref="RefreshTokenLifetime"/>.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TesseraDefaults.AccessTokenLifetime;

    /// <summary>
    /// How long a refresh token lives; a token session idles out when it is not refreshed within this. Default 1 day;
    /// at most <see cref="SessionLifetime"/>.
    /// </summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TesseraDefaults.RefreshTokenLifetime;

    /// <summary>
    /// The absolute lifetime of a session created for token clients; every token is capped by it. Default 7 days
    /// (mobile clients stay signed in longer than browsers; cookie sessions keep <see cref="TesseraOptions.AbsoluteLifetime"/>).
    /// </summary>
    public TimeSpan SessionLifetime { get; set; } = TesseraDefaults.TokenSessionLifetime;

    /// <summary>Tolerance for clocks that disagree, applied to <c>exp</c>, <c>iat</c> and <c>nbf</c>. Default 30 seconds; 0 to 5 minutes.</summary>
    public TimeSpan ClockSkew { get; set; } = TesseraDefaults.TokenClockSkew;

    /// <summary>
    /// How long after a rotation a retry with the same refresh token gets the same successor pair instead of being
    /// treated as a leak (a client whose response was lost, or two tabs refreshing at once). Default 5 seconds; 0 to 1 minute.
    /// The pair is given only while it is still the session's current one: once the successor was itself rotated, the
    /// retry is a reuse even inside the window.
    /// </summary>
    public TimeSpan ReuseGraceWindow { get; set; } = TesseraDefaults.RefreshReuseGraceWindow;

    /// <summary>The longest token accepted; anything longer is rejected before parsing. Default 4,096 characters; 256 to 65,536.</summary>
    public int MaxTokenLength { get; set; } = TesseraDefaults.MaxTokenLength;

    /// <summary>
    /// How many verified access tokens are remembered, so that an access token presented again (the same text) is
    /// accepted without checking its signature and parsing its payload again; its times and its kind are still checked on
    /// every use, and its stored record and session are still read. Default 4,096; 0 to 1,000,000, where 0
    /// remembers none (every request verifies its token in full). When the cache is full it is emptied and starts
    /// again. A remembered token's text stays in the process's memory until then; replacing the key ring (a key
    /// rotation through <c>UseDataProtectionKeys()</c>) makes every remembered token be verified again.
    /// </summary>
    public int VerifiedTokenCacheSize { get; set; } = TesseraDefaults.VerifiedTokenCacheSize;

    /// <summary>Which payload tokens carry. Default <see cref="TokenProfile.Tessera"/>.</summary>
    public TokenProfile Profile { get; set; } = TokenProfile.Tessera;
}

/// <summary>Hooks an application can set to hear about token events (log them, alert on them).</summary>
public sealed class TesseraTokenEvents
{
    /// <summary>
    /// Called after a rotated refresh token was presented outside the grace window, or after its successor was itself
    /// rotated: the session has already been revoked. Raised once per session, by the refresh whose revocation ended it
    /// (racing presenters of the same stale token are all refused, one reports). Default <see langword="null"/>
    /// (Tessera logs a warning either way). Exceptions it throws are logged and
    /// swallowed, so a failing alert never turns a revoked session back into a working one.
    /// </summary>
    public Func<RefreshTokenReuseContext, ValueTask>? OnRefreshTokenReused { get; set; }

    /// <summary>
    /// Called after a rotated refresh token was presented again within <see cref="TesseraTokenOptions.ReuseGraceWindow"/>
    /// and answered with its successor pair, which was then still the session's current, unrotated pair (a lost
    /// response retried, or racing refreshes of one token: each caller but the one that rotated raises it once).
    /// Default <see langword="null"/>. The context carries a short hash of the token, never the token. Exceptions it
    /// throws are logged and swallowed; the answer stands.
    /// </summary>
    public Func<RefreshGraceContext, ValueTask>? OnRefreshGraceAnswered { get; set; }
}

/// <summary>What is known about a refresh answered within the grace window.</summary>
/// <param name="SessionId">The session.</param>
/// <param name="Subject">Its subject, or <see langword="null"/>.</param>
/// <param name="TokenHash">
/// A short, non-reversible hash of the presented refresh token (8 hex characters of its SHA-256, as Tessera's log lines
/// name things): enough to tell retries of one token apart from retries of another, useless as a credential.
/// </param>
/// <param name="RotatedAt">When the presented token had been rotated.</param>
/// <param name="AnsweredAt">When the retry was answered.</param>
/// <param name="Metadata">The session's metadata (user agent, IP at creation).</param>
public sealed record RefreshGraceContext(string SessionId, string? Subject, string TokenHash, DateTimeOffset RotatedAt, DateTimeOffset AnsweredAt, SessionMetadata Metadata);

/// <summary>What is known about a detected refresh-token reuse.</summary>
/// <param name="SessionId">The revoked session.</param>
/// <param name="Subject">Its subject, or <see langword="null"/>.</param>
/// <param name="TokenId">The reused refresh token's id (not a credential: the JWT is never reported).</param>
/// <param name="RotatedAt">When that token had been rotated.</param>
/// <param name="DetectedAt">When the reuse was detected.</param>
/// <param name="Metadata">The session's metadata (user agent, IP at creation).</param>
public sealed record RefreshTokenReuseContext(string SessionId, string? Subject, string TokenId, DateTimeOffset RotatedAt, DateTimeOffset DetectedAt, SessionMetadata Metadata);
