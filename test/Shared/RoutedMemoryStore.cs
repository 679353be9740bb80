using System.Collections.Concurrent;
using Tessera.Tokens;

namespace Tessera.TestServices;

/// <summary>
/// A memory store that behaves, for finding sessions, as a store sharded by route does (a Redis Cluster): a credential
/// is found only on its session's route, the plain lookup by credential is not available at all, and a token pair whose
/// ids do not carry their session's route is refused. The suites run on it to show that they, and the core under them,
/// find every session through <see cref="IRoutedSessionStore"/> with the right route. It records every routed lookup
/// and every token id it was given. Linked into the core and ASP.NET Core test projects.
/// </summary>
internal sealed class RoutedMemoryStore(InMemorySessionStore inner)
    : ISessionStore, IRoutedSessionStore, ISessionStoreCleanup, ISessionStoreCounter, ISubjectSessionIndex, ISubjectSessionLimiter, ISessionStoreAdministration, ISessionTokenStore
{
    /// <summary>Every routed lookup by credential: the route asked for and the id of the session found, if any.</summary>
    public ConcurrentQueue<(SessionRoute Route, string? FoundId)> Lookups { get; } = new();

    /// <summary>Every token id given to <see cref="CreateTokensAsync"/> and <see cref="RotateAsync"/>.</summary>
    public ConcurrentQueue<string> TokenIds { get; } = new();

    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default)
    {
        var found = await inner.LoadByCredentialAsync(credentialHash, cancellationToken);
        if (found is not null && SessionRoute.Of(found.Id) != route)
        {
            found = null;
        }
        Lookups.Enqueue((route, found?.Id));
        return found;
    }

    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This store finds a credential only with its session's route.");

    public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default) =>
        Routed(access, refresh) ? inner.CreateTokensAsync(access, refresh, cancellationToken) : ValueTask.FromResult(false);

    public ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        Routed(newAccess, newRefresh);
        return inner.RotateAsync(refreshTokenId, newAccess, newRefresh, now, cancellationToken);
    }

    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default) => inner.LoadTokenAsync(tokenId, cancellationToken);

    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) => inner.LoadRefreshTokenAsync(tokenId, cancellationToken);

    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default) => inner.CreateAsync(record, cancellationToken);

    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default) => inner.LoadAsync(id, cancellationToken);

    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default) => inner.ApplyAsync(id, patch, cancellationToken);

    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default) => inner.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);

    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => inner.RevokeAsync(id, revokedAt, cancellationToken);

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) => inner.DeleteAsync(id, cancellationToken);

    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default) => inner.DeleteExpiredAsync(batchSize, cancellationToken);

    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default) => inner.DeleteRevokedAsync(revokedBefore, batchSize, cancellationToken);

    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);

    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default) => inner.ListBySubjectAsync(subject, cancellationToken);

    public ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) =>
        inner.TrimSubjectAsync(subject, keep, order, mustKeepId, revokedAt, cancellationToken);

    public ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default) => inner.ListSessionsAsync(query, cancellationToken);

    public ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => inner.GetStatisticsAsync(cancellationToken);

    public ValueTask<long> ClearAsync(CancellationToken cancellationToken = default) => inner.ClearAsync(cancellationToken);

    private bool Routed(TokenRecord access, TokenRecord refresh)
    {
        TokenIds.Enqueue(access.Id);
        TokenIds.Enqueue(refresh.Id);
        return SessionRoute.Of(access.Id) == SessionRoute.Of(access.SessionId) && SessionRoute.Of(refresh.Id) == SessionRoute.Of(refresh.SessionId);
    }
}
