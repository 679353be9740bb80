namespace Tessera.Tokens;

/// <summary>Why a token operation failed. <see cref="TokenFailureExtensions.ToReason"/> gives the stable wire name.</summary>
public enum TokenFailure
{
    /// <summary>No failure.</summary>
    None = 0,

    /// <summary><c>invalid_token</c>: malformed, oversized, wrongly signed, wrong algorithm or unknown key.</summary>
    InvalidToken,

    /// <summary><c>expired_token</c>: past its <c>exp</c> (beyond the allowed clock skew).</summary>
    ExpiredToken,

    /// <summary><c>revoked_token</c>: the token was rotated away, or its session was revoked.</summary>
    RevokedToken,

    /// <summary><c>wrong_token_type</c>: a refresh token where an access token belongs, or the reverse.</summary>
    WrongTokenType,

    /// <summary>
    /// <c>invalid_session</c>: the token's session no longer exists (deleted, with its token records) or has expired.
    /// </summary>
    InvalidSession,

    /// <summary>
    /// <c>refresh_token_reused</c>: a rotated refresh token was presented again outside the grace window; the whole
    /// session has been revoked.
    /// </summary>
    RefreshTokenReused,

    /// <summary>
    /// <c>session_limit_reached</c>: the subject already holds <see cref="TesseraOptions.MaxSessionsPerSubject"/> sessions
    /// and the policy is <see cref="SessionLimitPolicy.RefuseNewSignIn"/>; no session was signed in.
    /// </summary>
    SessionLimitReached,
}

/// <summary>Stable names of <see cref="TokenFailure"/> values.</summary>
public static class TokenFailureExtensions
{
    /// <summary>The stable, snake_case reason (for logs, metrics and API responses).</summary>
    /// <param name="failure">The failure.</param>
    /// <returns>The reason, or <c>none</c> for <see cref="TokenFailure.None"/>.</returns>
    public static string ToReason(this TokenFailure failure) => failure switch
    {
        TokenFailure.None => "none",
        TokenFailure.InvalidToken => "invalid_token",
        TokenFailure.ExpiredToken => "expired_token",
        TokenFailure.RevokedToken => "revoked_token",
        TokenFailure.WrongTokenType => "wrong_token_type",
        TokenFailure.InvalidSession => "invalid_session",
        TokenFailure.RefreshTokenReused => "refresh_token_reused",
        TokenFailure.SessionLimitReached => "session_limit_reached",
        _ => "invalid_token",
    };
}

/// <summary>The outcome of a token operation: a value, or a typed failure. Never an exception for bad input.</summary>
/// <typeparam name="T">The value's type.</typeparam>
/// <param name="Value">The value when <see cref="Succeeded"/>.</param>
/// <param name="Failure">Why it failed, or <see cref="TokenFailure.None"/>.</param>
public readonly record struct TokenResult<T>(T? Value, TokenFailure Failure)
{
    /// <summary>Whether the operation succeeded.</summary>
    public bool Succeeded => Failure == TokenFailure.None;

    /// <summary>The stable reason (<c>none</c> on success).</summary>
    public string Reason => Failure.ToReason();

    /// <summary>A failed result.</summary>
    /// <param name="failure">Why.</param>
    /// <returns>The result.</returns>
    public static TokenResult<T> Fail(TokenFailure failure) => new(default, failure);

    /// <summary>A successful result.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The result.</returns>
    public static TokenResult<T> Ok(T value) => new(value, TokenFailure.None);
}

/// <summary>An access token and a refresh token for one session. Both are secrets: never log them.</summary>
/// <param name="AccessToken">The access token (present it as <c>Authorization: Bearer</c>).</param>
/// <param name="RefreshToken">The refresh token (present it once, to get the next pair).</param>
/// <param name="AccessTokenExpiresAt">When the access token expires; refresh before then.</param>
/// <param name="RefreshTokenExpiresAt">When the refresh token expires; after that the client must sign in again.</param>
/// <param name="SessionId">The session both belong to.</param>
public sealed record TokenPair(string AccessToken, string RefreshToken, DateTimeOffset AccessTokenExpiresAt, DateTimeOffset RefreshTokenExpiresAt, string SessionId)
{
    /// <summary>Hides the tokens.</summary>
    /// <returns>A description without the tokens.</returns>
    public override string ToString() => $"TokenPair(session {Log.Ref(SessionId)}, access until {AccessTokenExpiresAt:O}, refresh until {RefreshTokenExpiresAt:O})";
}
