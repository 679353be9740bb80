using Tessera.Tokens;

namespace Tessera.NearCache;

// The optional capabilities: passed through to the wrapped store, announcing what they change. Only access-token
// lookups are served from memory; refresh tokens always come from the store (rotation and reuse detection need it).
public sealed partial class NearCacheSessionStore : ISessionStoreCleanup, ISessionStoreCounter, ISubjectSessionIndex, ISubjectSessionLimiter, ISessionStoreAdministration, ISessionTokenStore
{
    private readonly ISessionStoreCleanup _cleanup;
    private readonly ISessionStoreCounter _counter;
    private readonly ISubjectSessionIndex _index;
    private readonly ISubjectSessionLimiter _limiter;
    private readonly ISessionStoreAdministration _administration;
    private readonly ISessionTokenStore _tokens;

    /// <inheritdoc />
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default) =>
        _cleanup.DeleteExpiredAsync(batchSize, cancellationToken); // expired copies are never served anyway

    /// <inheritdoc />
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default) =>
        _cleanup.DeleteRevokedAsync(revokedBefore, batchSize, cancellationToken); // announced when they were revoked

    /// <inheritdoc />
    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => _counter.CountAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default) =>
        _index.ListBySubjectAsync(subject, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        var revoked = await _limiter.TrimSubjectAsync(subject, keep, order, mustKeepId, revokedAt, cancellationToken).ConfigureAwait(false);
        foreach (var id in revoked)
        {
            Evict(id, "local");
            await PublishAsync(id).ConfigureAwait(false);
        }
        return revoked;
    }

    /// <inheritdoc />
    public ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default) =>
        _administration.ListSessionsAsync(query, cancellationToken);

    /// <inheritdoc />
    public ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) =>
        _administration.GetStatisticsAsync(cancellationToken);

    /// <inheritdoc />
    public async ValueTask<long> ClearAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _administration.ClearAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Flush("local");
            await PublishAsync(null).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default) =>
        _tokens.CreateTokensAsync(access, refresh, cancellationToken);

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        if (_byToken.TryGetValue(tokenId, out var cached) && Serves(cached.Session, out var now) && now < cached.Lookup.Token.ExpiresAt)
        {
            _metrics.NearCacheLookup("hit");
            return new ValueTask<TokenLookup?>(cached.Lookup);
        }
        return LoadTokenThroughAsync(tokenId, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Always from the wrapped store: a refresh decides on the store's state of the moment.</remarks>
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        _tokens.LoadRefreshTokenAsync(tokenId, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newAccess);
        try
        {
            return await _tokens.RotateAsync(refreshTokenId, newAccess, newRefresh, now, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The old access token is revoked and the idle deadline may have moved: every copy of the session goes.
            await ForgetAsync(newAccess.SessionId).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public bool CanTryRotate => _tokens.CanTryRotate;

    /// <inheritdoc />
    public async ValueTask<RotatedTokenExpiries?> TryRotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, TimeSpan clockSkew, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newAccess);
        RotatedTokenExpiries? stored;
        try
        {
            stored = await _tokens.TryRotateAsync(refreshTokenId, newAccess, newRefresh, now, clockSkew, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The outcome is unknown: as after a rotation, every copy of the session goes.
            await ForgetAsync(newAccess.SessionId).ConfigureAwait(false);
            throw;
        }
        if (stored is not null)
        {
            await ForgetAsync(newAccess.SessionId).ConfigureAwait(false); // as RotateAsync; nothing changed otherwise
        }
        return stored;
    }

    private async ValueTask ForgetAsync(string sessionId)
    {
        Evict(sessionId, "local");
        await PublishAsync(sessionId).ConfigureAwait(false);
    }

    private async ValueTask<TokenLookup?> LoadTokenThroughAsync(string tokenId, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var listening = _listening;
        _metrics.NearCacheLookup(listening ? "miss" : "bypass");
        var generation = Volatile.Read(ref _sequence);
        var fetchedAt = _time.GetUtcNow();
        var lookup = await _tokens.LoadTokenAsync(tokenId, cancellationToken).ConfigureAwait(false);
        if (listening
            && lookup is { Token: { Kind: TokenKind.Access, RevokedAt: null }, Session: { } session }
            && session.IsActiveAt(fetchedAt))
        {
            var entry = new Entry(session, fetchedAt);
            entry.AddToken(tokenId);
            _byToken[tokenId] = new TokenEntry(lookup, entry);
            if (!Keep(entry, generation))
            {
                Forget(entry);
            }
        }
        return lookup;
    }
}
