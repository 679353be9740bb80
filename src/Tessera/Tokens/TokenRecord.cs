namespace Tessera.Tokens;

/// <summary>Which of the two tokens of a pair.</summary>
public enum TokenKind
{
    /// <summary>A short-lived token presented on every request (<c>Authorization: Bearer</c>).</summary>
    Access = 0,

    /// <summary>A longer-lived token presented only to get a new pair; single use.</summary>
    Refresh = 1,
}

/// <summary>
/// A token as a store keeps it: an id, the session it belongs to, and its life. The JWT itself is never stored; it can
/// be re-minted from this record because its claims come only from here.
/// </summary>
/// <remarks>Times are UTC at whole-second precision (JWT <c>iat</c>/<c>exp</c> are seconds).</remarks>
public sealed record TokenRecord
{
    /// <summary>The token id (a UUID): the JWT's <c>jti</c>, or Compas's token row id.</summary>
    public required string Id { get; init; }

    /// <summary>The id of the session the token belongs to.</summary>
    public required string SessionId { get; init; }

    /// <summary>Access or refresh.</summary>
    public required TokenKind Kind { get; init; }

    /// <summary>
    /// The other token of the pair: for an access token its refresh token (Compas's <c>refreshToken</c> column), for a
    /// refresh token its access token.
    /// </summary>
    public required string PairedTokenId { get; init; }

    /// <summary>When the token was issued (its <c>iat</c>).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the token expires (its <c>exp</c>).</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>When the token was revoked (its pair was rotated), or <see langword="null"/>.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>For a rotated refresh token, the refresh token that replaced it; otherwise <see langword="null"/>.</summary>
    public string? SuccessorId { get; init; }
}

/// <summary>A token and the session it belongs to, read together in one store call.</summary>
/// <param name="Token">The token, revoked or not.</param>
/// <param name="Session">
/// The session, whatever its state (live, expired or revoked), or <see langword="null"/> when it no longer exists.
/// </param>
public sealed record TokenLookup(TokenRecord Token, SessionRecord? Session)
{
    /// <summary>
    /// Only from <see cref="ISessionTokenStore.LoadRefreshTokenAsync"/>: the refresh token that replaced
    /// <see cref="Token"/> (the record <see cref="TokenRecord.SuccessorId"/> names), as it was in the same read, revoked
    /// or not. <see langword="null"/> when the token has no successor, the successor record is gone (dropped after its
    /// expiry), or the lookup came from <see cref="ISessionTokenStore.LoadTokenAsync"/>.
    /// </summary>
    public TokenRecord? Successor { get; init; }

    /// <summary>
    /// Only from <see cref="ISessionTokenStore.LoadRefreshTokenAsync"/>: the access token paired with
    /// <see cref="Successor"/>, as it was in the same read. <see langword="null"/> whenever <see cref="Successor"/> is, or
    /// when that access token record is gone.
    /// </summary>
    public TokenRecord? SuccessorAccess { get; init; }
}

/// <summary>The outcome of <see cref="ISessionTokenStore.RotateAsync"/>.</summary>
public enum TokenRotationOutcome
{
    /// <summary>The old pair was revoked and the new pair stored, atomically.</summary>
    Rotated = 0,

    /// <summary>Nothing was written: the refresh token was already revoked (rotated before, or its session ended).</summary>
    AlreadyRevoked,

    /// <summary>Nothing was written: the refresh token does not exist.</summary>
    NotFound,

    /// <summary>Nothing was written: the session is missing, expired or revoked.</summary>
    SessionNotLive,
}

/// <summary>
/// A store that keeps token pairs beside sessions, for access/refresh token clients. Token records live until their
/// session is deleted, except that <see cref="RotateAsync"/> deletes the session's rotated tokens that expired more than
/// <see cref="TesseraDefaults.ExpiredTokenRetention"/> before its <c>now</c>: rotated refresh tokens stay as tombstones
/// for as long as they could be presented, so reuse stays detectable, and no longer.
/// </summary>
public interface ISessionTokenStore
{
    /// <summary>Stores a new pair for a live session.</summary>
    /// <param name="access">The access token record.</param>
    /// <param name="refresh">The refresh token record, paired with <paramref name="access"/>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see langword="false"/> (nothing written) when the session is not live or a token id exists.</returns>
    ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default);

    /// <summary>Loads a token with its session in one call.</summary>
    /// <param name="tokenId">The token id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The token and its session, or <see langword="null"/> when no such token exists.</returns>
    ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Loads a token for a refresh: what <see cref="LoadTokenAsync"/> reads and, when the token was rotated (it has a
    /// <see cref="TokenRecord.SuccessorId"/>), its successor refresh token and that token's access token
    /// (<see cref="TokenLookup.Successor"/>, <see cref="TokenLookup.SuccessorAccess"/>), all in <b>one atomic read</b>:
    /// one statement, one script, or under one lock. Tessera answers a retry within the grace window with the successor
    /// pair only when that read shows it still unrotated, so the four records must come from the same moment: a
    /// successor read after a concurrent rotation, beside a token read before it, would hand out a pair that was
    /// already rotated away.
    /// </summary>
    /// <param name="tokenId">The presented token's id (normally a refresh token; any kind is returned as it is).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The token, its session and its successor pair, or <see langword="null"/> when no such token exists.</returns>
    ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Rotates a refresh token atomically: only if it exists, is not revoked and its session is live, revokes it and its
    /// access token at <paramref name="now"/>, records <paramref name="newRefresh"/> as its successor, stores the new
    /// pair, and extends the session's idle deadline to the new refresh token's expiry if that is later.
    /// Of two concurrent rotations of one token, exactly one succeeds.
    /// </summary>
    /// <param name="refreshTokenId">The refresh token being used.</param>
    /// <param name="newAccess">The new access token.</param>
    /// <param name="newRefresh">The new refresh token.</param>
    /// <param name="now">The rotation time.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>What happened; anything but <see cref="TokenRotationOutcome.Rotated"/> wrote nothing.</returns>
    ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether <see cref="TryRotateAsync"/> can rotate. Default <see langword="false"/>: Tessera calls it only on a store
    /// that says <see langword="true"/> (a wrapper says what the store it wraps says).
    /// </summary>
    bool CanTryRotate => false;

    /// <summary>
    /// A refresh in one operation, for stores where a round trip costs more than checking in the store: rotates like
    /// <see cref="RotateAsync"/>, but only when, at one moment, the refresh token exists, is a refresh token of
    /// <paramref name="newAccess"/>'s session, is not revoked, has not expired (<paramref name="now"/> is before its
    /// expiry plus <paramref name="clockSkew"/>), and that session is live at <paramref name="now"/>: everything Tessera
    /// checks on the token's record before a rotation. The new pair's expiries are capped at the session's absolute
    /// deadline in the store, and the stored expiries are returned.
    /// </summary>
    /// <remarks>
    /// Optional (see <see cref="CanTryRotate"/>): the default implementation does nothing and returns
    /// <see langword="null"/>, and so does a store when any condition fails; either way nothing was written, and Tessera then reads the token and decides as it always does
    /// (<see cref="LoadRefreshTokenAsync"/>, then <see cref="RotateAsync"/>), so a refused, expired or rotated token gets
    /// the same answer as before, only one round trip later. The PostgreSQL store implements it.
    /// </remarks>
    /// <param name="refreshTokenId">The refresh token being used.</param>
    /// <param name="newAccess">The new access token; its <see cref="TokenRecord.ExpiresAt"/> before the cap.</param>
    /// <param name="newRefresh">The new refresh token; its <see cref="TokenRecord.ExpiresAt"/> before the cap.</param>
    /// <param name="now">The rotation time.</param>
    /// <param name="clockSkew">How long past its expiry a token is still accepted.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The new pair's expiries as stored, or <see langword="null"/> when nothing was rotated.</returns>
    ValueTask<RotatedTokenExpiries?> TryRotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, TimeSpan clockSkew, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<RotatedTokenExpiries?>(null);
}

/// <summary>The expiries of a pair stored by <see cref="ISessionTokenStore.TryRotateAsync"/>, after the session's absolute deadline capped them.</summary>
/// <param name="AccessExpiresAt">When the new access token expires.</param>
/// <param name="RefreshExpiresAt">When the new refresh token expires.</param>
public readonly record struct RotatedTokenExpiries(DateTimeOffset AccessExpiresAt, DateTimeOffset RefreshExpiresAt);
