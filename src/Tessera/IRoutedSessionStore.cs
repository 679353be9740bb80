namespace Tessera;

/// <summary>
/// A store that needs a session's <see cref="SessionRoute"/> to find it by credential: one sharded by session (a Redis
/// Cluster keeps every key of a session on the slot its route names), where a credential hash alone would mean a lookup
/// on every shard. The core discovers it with <c>is</c> and then always calls
/// <see cref="LoadByCredentialAsync(ReadOnlyMemory{byte}, SessionRoute, CancellationToken)"/>, with the route the
/// cookie credential carries; a store that does not implement it gets the plain
/// <see cref="ISessionStore.LoadByCredentialAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, as before.
/// </summary>
/// <remarks>
/// <para>
/// The route is a locator, never a credential: the hash is still what authenticates. A routed store's plain
/// <see cref="ISessionStore.LoadByCredentialAsync(ReadOnlyMemory{byte}, CancellationToken)"/> may be unable to find
/// anything (and may throw <see cref="NotSupportedException"/>); the conformance suites in <c>Tessera.Testing</c>
/// look sessions up by credential through the routed form whenever a store implements it.
/// </para>
/// <para>
/// Tokens: a routed store may find a token by the route in its id (its first four hex digits), so it may refuse a token
/// pair whose token ids do not carry their session's route: its <see cref="Tokens.ISessionTokenStore.CreateTokensAsync"/>
/// then returns <see langword="false"/>. Ids made by <see cref="SessionRoute.NewTokenId"/>, as every token id Tessera
/// makes, always carry it.
/// </para>
/// <para>
/// A store that wraps another (a cache, a decorator such as the near cache) implements this interface to pass the route
/// through: over a routed store it answers as that store does; over a store that is not routed it answers as the plain
/// lookup does, ignoring the route, so cookies issued before credentials carried routes keep working there.
/// </para>
/// </remarks>
public interface IRoutedSessionStore
{
    /// <summary>Loads a live session by the SHA-256 of its current credential and the route the credential carries.</summary>
    /// <param name="credentialHash">The 32-byte hash.</param>
    /// <param name="route">
    /// <see cref="SessionRoute.Of"/> of the id of the session that holds the credential (the route a cookie credential
    /// carries, read by <see cref="CookieCredential.Verify(string?, out byte[], out SessionRoute)"/>).
    /// </param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// The session, or <see langword="null"/> when no live session holds that credential. A wrong route finds nothing
    /// (<see langword="null"/>), never another session; only a wrapper over a store that is not routed ignores the route
    /// (see the remarks).
    /// </returns>
    ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default);
}
