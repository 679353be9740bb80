namespace Tessera;

/// <summary>
/// Where sessions live. Small on purpose: every operation works on one session. Missing, expired and revoked
/// sessions read as <see langword="null"/> (or <see langword="false"/>); an exception always means the store failed.
/// </summary>
/// <remarks>
/// Optional powers are separate interfaces the core discovers with <c>is</c>: <see cref="ISessionStoreCleanup"/>,
/// <see cref="ISessionStoreCounter"/>, <see cref="ISubjectSessionIndex"/>, <see cref="ISubjectSessionLimiter"/>
/// (per-subject session limits), <see cref="ISessionStoreAdministration"/>
/// (listing, statistics and clearing, for operators and the CLI) and <see cref="Tokens.ISessionTokenStore"/> (token
/// sessions). Every store must pass the conformance suites in <c>Tessera.Testing</c>.
/// </remarks>
public interface ISessionStore
{
    /// <summary>Stores a new session.</summary>
    /// <param name="record">The session; its <see cref="SessionRecord.RevokedAt"/> must be <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// <see langword="false"/> when a session with the same id or credential hash already exists (nothing is changed);
    /// <see langword="true"/> when stored.
    /// </returns>
    /// <exception cref="SessionStoreFullException">The store is at its size bound and its policy refuses new sessions.</exception>
    ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default);

    /// <summary>Loads a live session by id, for management; the id is never a credential.</summary>
    /// <param name="id">The session id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The session, or <see langword="null"/> when it is missing, expired or revoked.</returns>
    ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Loads a live session by the SHA-256 of its current credential.</summary>
    /// <param name="credentialHash">The 32-byte hash.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The session, or <see langword="null"/> when no live session holds that credential.</returns>
    ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default);

    /// <summary>Applies a patch atomically: all of it or none of it.</summary>
    /// <param name="id">The session id.</param>
    /// <param name="patch">The changes.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see langword="false"/> when the session is missing, expired or revoked (nothing is written).</returns>
    ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default);

    /// <summary>Records activity: sets the last-seen time and the idle deadline, nothing else.</summary>
    /// <param name="id">The session id.</param>
    /// <param name="lastSeenAt">The new last-seen time.</param>
    /// <param name="idleExpiresAt">The new idle deadline (already capped by the absolute deadline).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see langword="false"/> when the session is missing, expired or revoked.</returns>
    ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Revokes a session: from now on no load finds it and its credential is dead. The record stays until cleanup
    /// removes it after its expiry.
    /// </summary>
    /// <param name="id">The session id.</param>
    /// <param name="revokedAt">The revocation time.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see langword="false"/> when the session was missing or already revoked.</returns>
    ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    /// <summary>Deletes a session and everything stored with it. Deleting a missing session is a no-op.</summary>
    /// <param name="id">The session id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see langword="true"/> when a record was deleted.</returns>
    ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default);
}

/// <summary>A store that can delete expired sessions in bounded batches (used by the cleanup service).</summary>
public interface ISessionStoreCleanup
{
    /// <summary>Deletes at most <paramref name="batchSize"/> sessions whose expiry is at or before the store's now.</summary>
    /// <param name="batchSize">The most records to delete in this call; at least 1.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>How many were deleted; fewer than <paramref name="batchSize"/> means none are left.</returns>
    ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes at most <paramref name="batchSize"/> revoked sessions whose revocation is at or before
    /// <paramref name="revokedBefore"/>, with everything stored with them (data, tokens), expired or not.
    /// </summary>
    /// <param name="revokedBefore">The cut-off; sessions revoked later are kept.</param>
    /// <param name="batchSize">The most records to delete in this call; at least 1.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>How many were deleted; fewer than <paramref name="batchSize"/> means none are left.</returns>
    ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default);
}

/// <summary>A store that can count its sessions.</summary>
public interface ISessionStoreCounter
{
    /// <summary>Counts the live sessions (not expired, not revoked).</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The number of live sessions.</returns>
    ValueTask<long> CountAsync(CancellationToken cancellationToken = default);
}

/// <summary>A store that can find the sessions of a subject.</summary>
public interface ISubjectSessionIndex
{
    /// <summary>Lists the live sessions of a subject, oldest first.</summary>
    /// <param name="subject">The subject; an unknown subject gives an empty list.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The sessions, with their data.</returns>
    ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default);
}

/// <summary>What a bounded store does when a new session would exceed its bound.</summary>
public enum StoreCapacityPolicy
{
    /// <summary>
    /// Expired sessions are removed first; if the store is still full, the least recently seen sessions are evicted
    /// (their users are signed out). The default: a flood of anonymous sessions cannot stop new sign-ins.
    /// </summary>
    EvictLeastRecentlyUsed = 0,

    /// <summary>
    /// Expired sessions are removed first; if the store is still full, creation fails with
    /// <see cref="SessionStoreFullException"/>. Nobody is signed out, but new sessions are refused until space frees.
    /// </summary>
    Reject = 1,
}

/// <summary>Thrown when a bounded store with <see cref="StoreCapacityPolicy.Reject"/> is full.</summary>
public sealed class SessionStoreFullException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionStoreFullException() : base("The session store is full and its capacity policy refuses new sessions.") { }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public SessionStoreFullException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public SessionStoreFullException(string message, Exception innerException) : base(message, innerException) { }
}
