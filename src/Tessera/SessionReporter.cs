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

    // Session-limit trims this process is running now, by subject (from just before the store write until every
    // session it revoked has been reported), kept only while something listens to Revoked. A trim learns which sessions
    // it revoked only from the store's answer, so unlike BeginRevoking it cannot note them by id beforehand: a watcher
    // whose read finds one of its sessions revoked meanwhile waits for the subject's trims to report instead.
    private readonly Lock _limitGate = new();
    private readonly List<(string Subject, TaskCompletionSource Done)> _limiting = [];

    /// <summary>
    /// Notes that this process is about to trim <paramref name="subject"/>'s sessions to the session limit; returns the
    /// note to pass to <see cref="EndLimiting"/> once every session the trim revoked is reported (or the trim failed),
    /// or <see langword="null"/> when nothing listens to <see cref="Revoked"/>.
    /// </summary>
    public TaskCompletionSource? BeginLimiting(string subject)
    {
        if (Revoked is null)
        {
            return null;
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_limitGate)
        {
            _limiting.Add((subject, done));
        }
        return done;
    }

    /// <summary>The trim noted by <paramref name="note"/> is over; whoever waits for it goes on.</summary>
    public void EndLimiting(TaskCompletionSource note)
    {
        lock (_limitGate)
        {
            _limiting.RemoveAll(l => l.Done == note);
        }
        note.TrySetResult();
    }

    /// <summary>
    /// Completes once the session-limit trims running now for <paramref name="subject"/> (every subject's, when it is
    /// <see langword="null"/>: the subject of a session the store no longer has is unknown) have reported what they
    /// revoked; completed at once when none runs.
    /// </summary>
    public Task LimitingDone(string? subject)
    {
        lock (_limitGate)
        {
            var running = _limiting.Where(l => subject is null || string.Equals(l.Subject, subject, StringComparison.Ordinal)).Select(l => l.Done.Task).ToArray();
            return running.Length == 0 ? Task.CompletedTask : Task.WhenAll(running);
        }
    }

    /// <summary>Logs and counts a revocation, tells <see cref="Revoked"/>, then raises <see cref="TesseraSessionEvents.OnRevoked"/>.</summary>
    public ValueTask RevokedAsync(SessionRevokedEvent revoked)
    {
        Log.SessionRevoked(logger, Log.Ref(revoked.SessionId), revoked.Reason);
        metrics.Revoked(revoked.Reason);
        Revoked?.Invoke(revoked);
        return SessionEventDispatch.RaiseAsync(events.OnRevoked, revoked, logger);
    }
}
