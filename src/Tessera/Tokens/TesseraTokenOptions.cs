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
    /// </summary>
    public TimeSpan ReuseGraceWindow { get; set; } = TesseraDefaults.RefreshReuseGraceWindow;

    /// <summary>The longest token accepted; anything longer is rejected before parsing. Default 4,096 characters; 256 to 65,536.</summary>
    public int MaxTokenLength { get; set; } = TesseraDefaults.MaxTokenLength;

    /// <summary>Which payload tokens carry. Default <see cref="TokenProfile.Tessera"/>.</summary>
    public TokenProfile Profile { get; set; } = TokenProfile.Tessera;
}

/// <summary>Hooks an application can set to hear about token events (log them, alert on them).</summary>
public sealed class TesseraTokenEvents
{
    /// <summary>
    /// Called after a rotated refresh token was presented outside the grace window: the session has already been
    /// revoked. Default <see langword="null"/> (Tessera logs a warning either way). Exceptions it throws are logged and
    /// swallowed, so a failing alert never turns a revoked session back into a working one.
    /// </summary>
    public Func<RefreshTokenReuseContext, ValueTask>? OnRefreshTokenReused { get; set; }
}

/// <summary>What is known about a detected refresh-token reuse.</summary>
/// <param name="SessionId">The revoked session.</param>
/// <param name="Subject">Its subject, or <see langword="null"/>.</param>
/// <param name="TokenId">The reused refresh token's id (not a credential: the JWT is never reported).</param>
/// <param name="RotatedAt">When that token had been rotated.</param>
/// <param name="DetectedAt">When the reuse was detected.</param>
/// <param name="Metadata">The session's metadata (user agent, IP at creation).</param>
public sealed record RefreshTokenReuseContext(string SessionId, string? Subject, string TokenId, DateTimeOffset RotatedAt, DateTimeOffset DetectedAt, SessionMetadata Metadata);
