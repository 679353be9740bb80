using Microsoft.Extensions.Logging;

namespace Tessera;

/// <summary>
/// Tells the world what happened to a session: the metric and the application's event (<see cref="TesseraSessionEvents"/>)
/// for a creation, a sign-in or a revocation, whichever path did it (a cookie commit, a token session, the session
/// limit, a revocation by id). A throwing event handler is logged and never fails the operation.
/// </summary>
internal sealed class SessionReporter(TesseraSessionEvents events, TesseraMetrics metrics, ILogger logger)
{
    /// <summary>
    /// Whether an application handler listens for revocations: only then does a revoking path read the session's subject
    /// and metadata first, so without one a revocation stays a single store call.
    /// </summary>
    public bool ObservesRevocations => events.OnRevoked is not null;

    /// <summary>Counts a created session and raises <see cref="TesseraSessionEvents.OnCreated"/>.</summary>
    public ValueTask CreatedAsync(SessionCreatedEvent created)
    {
        metrics.Created(created.CredentialKind);
        return SessionEventDispatch.RaiseAsync(events.OnCreated, created, logger);
    }

    /// <summary>Counts a sign-in and raises <see cref="TesseraSessionEvents.OnSignedIn"/>.</summary>
    public ValueTask SignedInAsync(SessionSignedInEvent signedIn)
    {
        metrics.SignedIn(signedIn.CredentialKind);
        return SessionEventDispatch.RaiseAsync(events.OnSignedIn, signedIn, logger);
    }

    /// <summary>
    /// Hears every revocation this process makes, with its reason, before the application's hook runs: how
    /// <see cref="SessionEndWatcher"/> closes this instance's connections at once and tells the others why.
    /// </summary>
    public event Action<SessionRevokedEvent>? Revoked;

    // Revocations this process is making now (from just before the store write until Revoked has been told), kept only
    // while something listens to Revoked: a watcher whose own read of the store lands between the two learns the reason
    // here instead of closing the connection as "revoked" (reason unknown).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SessionRevocationReason> _revoking = new(StringComparer.Ordinal);

    /// <summary>Notes that this process is about to revoke <paramref name="sessionId"/>; returns whether it was noted (then call <see cref="EndRevoking"/> once it is over).</summary>
    public bool BeginRevoking(string sessionId, SessionRevocationReason reason)
    {
        if (Revoked is null)
        {
            return false;
        }
        _revoking[sessionId] = reason;
        return true;
    }

    /// <summary>The revocation of <paramref name="sessionId"/> is over (reported, refused or failed).</summary>
    public void EndRevoking(string sessionId) => _revoking.TryRemove(sessionId, out _);

    /// <summary>Why this process is revoking <paramref name="sessionId"/> right now, if it is.</summary>
    public bool TryGetRevoking(string sessionId, out SessionRevocationReason reason) => _revoking.TryGetValue(sessionId, out reason);

    /// <summary>Logs and counts a revocation, tells <see cref="Revoked"/>, then raises <see cref="TesseraSessionEvents.OnRevoked"/>.</summary>
    public ValueTask RevokedAsync(SessionRevokedEvent revoked)
    {
        Log.SessionRevoked(logger, Log.Ref(revoked.SessionId), revoked.Reason);
        metrics.Revoked(revoked.Reason);
        Revoked?.Invoke(revoked);
        return SessionEventDispatch.RaiseAsync(events.OnRevoked, revoked, logger);
    }
}
