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

    /// <summary>Logs and counts a revocation, tells <see cref="Revoked"/>, then raises <see cref="TesseraSessionEvents.OnRevoked"/>.</summary>
    public ValueTask RevokedAsync(SessionRevokedEvent revoked)
    {
        Log.SessionRevoked(logger, Log.Ref(revoked.SessionId), revoked.Reason);
        metrics.Revoked(revoked.Reason);
        Revoked?.Invoke(revoked);
        return SessionEventDispatch.RaiseAsync(events.OnRevoked, revoked, logger);
    }
}
