using Tessera.NearCache;

namespace Tessera.Testing;

/// <summary>
/// Looking a session up by credential the way the core does: through <see cref="IRoutedSessionStore"/> with the
/// session's route when the store implements it, through the plain lookup otherwise. The suites use these instead of
/// <see cref="ISessionStore.LoadByCredentialAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, which a routed store may
/// be unable to answer.
/// </summary>
public static class SessionStoreLookups
{
    /// <summary>Loads by credential with the given route, routed when the store is (see the class remarks).</summary>
    /// <param name="store">The store.</param>
    /// <param name="credentialHash">The credential hash.</param>
    /// <param name="route">The route, used only by a store that implements <see cref="IRoutedSessionStore"/>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>What the store found, or <see langword="null"/>.</returns>
    public static ValueTask<SessionRecord?> LoadByCredentialAsync(this ISessionStore store, ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store is IRoutedSessionStore routed
            ? routed.LoadByCredentialAsync(credentialHash, route, cancellationToken)
            : store.LoadByCredentialAsync(credentialHash, cancellationToken);
    }

    /// <summary>Loads by credential on the route of session <paramref name="sessionId"/>.</summary>
    /// <param name="store">The store.</param>
    /// <param name="credentialHash">The credential hash.</param>
    /// <param name="sessionId">The id of the session expected to hold the credential (any id for a lookup expected to find nothing).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>What the store found, or <see langword="null"/>.</returns>
    public static ValueTask<SessionRecord?> LoadByCredentialAsync(this ISessionStore store, ReadOnlyMemory<byte> credentialHash, string sessionId, CancellationToken cancellationToken = default) =>
        store.LoadByCredentialAsync(credentialHash, SessionRoute.Of(sessionId), cancellationToken);

    /// <summary>Loads by <paramref name="record"/>'s credential hash, on its route.</summary>
    /// <param name="store">The store.</param>
    /// <param name="record">The session whose credential to look up (as it was created, or as last known).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>What the store found, or <see langword="null"/>.</returns>
    public static ValueTask<SessionRecord?> LoadByCredentialAsync(this ISessionStore store, SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id), cancellationToken);
    }

    /// <summary>
    /// Whether the store's credential lookups depend on the route: it implements <see cref="IRoutedSessionStore"/> and
    /// is not a wrapper (near cache, <see cref="CountingSessionStore"/>, <see cref="FaultySessionStore"/>) over a store
    /// that does not, since such a wrapper ignores the route.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <returns><see langword="true"/> when a wrong route must find nothing.</returns>
    public static bool IsRouted(ISessionStore store) => store switch
    {
        NearCacheSessionStore cache => IsRouted(cache.Inner),
        CountingSessionStore counting => IsRouted(counting.Inner),
        FaultySessionStore faulty => IsRouted(faulty.Inner),
        _ => store is IRoutedSessionStore,
    };
}
