using Tessera.Tokens;

namespace Tessera;

// Token sessions: access and refresh tokens by id and by session, and the refresh-token rotation.
public sealed partial class InMemorySessionStore : ISessionTokenStore
{
    /// <inheritdoc />
    public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (Live(access.SessionId) is null || refresh.SessionId != access.SessionId
                || _tokens.ContainsKey(access.Id) || _tokens.ContainsKey(refresh.Id) || access.Id == refresh.Id)
            {
                return ValueTask.FromResult(false);
            }
            AddToken(access);
            AddToken(refresh);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LookUpToken(tokenId, withSuccessor: false, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Under the store's lock, so the four records are read at one moment.</remarks>
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LookUpToken(tokenId, withSuccessor: true, cancellationToken);

    private ValueTask<TokenLookup?> LookUpToken(string tokenId, bool withSuccessor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (!_tokens.TryGetValue(tokenId, out var token))
            {
                return ValueTask.FromResult<TokenLookup?>(null);
            }
            var session = _byId.TryGetValue(token.SessionId, out var entry) ? entry.ToRecord() : null;
            var successor = withSuccessor && token.SuccessorId is { } successorId && _tokens.TryGetValue(successorId, out var next) ? next : null;
            var successorAccess = successor is not null && _tokens.TryGetValue(successor.PairedTokenId, out var paired) ? paired : null;
            return ValueTask.FromResult<TokenLookup?>(new TokenLookup(token, session) { Successor = successor, SuccessorAccess = successorAccess });
        }
    }

    /// <inheritdoc />
    public ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (!_tokens.TryGetValue(refreshTokenId, out var old) || old.Kind != TokenKind.Refresh)
            {
                return ValueTask.FromResult(TokenRotationOutcome.NotFound);
            }
            if (old.RevokedAt is not null)
            {
                return ValueTask.FromResult(TokenRotationOutcome.AlreadyRevoked);
            }
            if (Live(old.SessionId) is not { } session || newAccess.SessionId != old.SessionId || newRefresh.SessionId != old.SessionId)
            {
                return ValueTask.FromResult(TokenRotationOutcome.SessionNotLive);
            }
            if (_tokens.ContainsKey(newAccess.Id) || _tokens.ContainsKey(newRefresh.Id))
            {
                throw new InvalidOperationException("A new token id collided with a stored one.");
            }
            _tokens[old.Id] = old with { RevokedAt = now, SuccessorId = newRefresh.Id };
            if (_tokens.TryGetValue(old.PairedTokenId, out var oldAccess) && oldAccess.RevokedAt is null)
            {
                _tokens[oldAccess.Id] = oldAccess with { RevokedAt = now };
            }
            PruneExpiredTokens(old.SessionId, now - TesseraDefaults.ExpiredTokenRetention);
            AddToken(newAccess);
            AddToken(newRefresh);
            var idle = Math.Min(newRefresh.ExpiresAt.UtcTicks, session.AbsoluteExpiresTicks);
            SetActivity(session, now.UtcTicks, Math.Max(idle, session.IdleExpiresTicks));
            return ValueTask.FromResult(TokenRotationOutcome.Rotated);
        }
    }

    // Rotated tokens that expired before the cutoff can never be presented again (expired tokens are refused before the
    // store is asked): drop them, so a long-lived token session holds only its recent pairs.
    private void PruneExpiredTokens(string sessionId, DateTimeOffset cutoff)
    {
        if (_tokenIdsBySession.TryGetValue(sessionId, out var ids))
        {
            ids.RemoveAll(id =>
            {
                if (_tokens.TryGetValue(id, out var token) && token.RevokedAt is not null && token.ExpiresAt < cutoff)
                {
                    _tokens.Remove(id);
                    return true;
                }
                return false;
            });
        }
    }

    private void AddToken(TokenRecord token)
    {
        _tokens[token.Id] = token;
        if (!_tokenIdsBySession.TryGetValue(token.SessionId, out var ids))
        {
            _tokenIdsBySession[token.SessionId] = ids = [];
        }
        ids.Add(token.Id);
    }
}
