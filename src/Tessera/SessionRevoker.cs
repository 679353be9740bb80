namespace Tessera;

/// <summary>
/// Revokes one session by id and reports it (log, metric, <see cref="TesseraSessionEvents.OnRevoked"/>): the one way
/// the core ends a session, for sign-out, per-user and operator revocation and refresh-token reuse alike.
/// </summary>
internal sealed class SessionRevoker(InstrumentedStore store, SessionClock clock, SessionReporter reporter)
{
    /// <summary>
    /// Revokes, then reports; a missing or already revoked session is a no-op that reports nothing.
    /// <paramref name="known"/> is the record when the caller already holds it.
    /// </summary>
    /// <returns><see langword="true"/> when a live session was revoked.</returns>
    public async ValueTask<bool> RevokeAsync(string sessionId, SessionRecord? known, SessionRevocationReason reason, CancellationToken cancellationToken)
    {
        if (known is null && reporter.ObservesRevocations)
        {
            // Only a subscriber needs the subject and metadata; without one, revoking stays a single store call.
            known = await store.LoadAsync(sessionId, cancellationToken).ConfigureAwait(false);
        }
        var now = clock.Now();
        var noted = reporter.BeginRevoking(sessionId, reason);
        try
        {
            var revoked = await store.RevokeAsync(sessionId, now, cancellationToken).ConfigureAwait(false);
            if (revoked)
            {
                await reporter.RevokedAsync(new SessionRevokedEvent(sessionId, known?.Subject, reason, now, known?.Metadata ?? SessionMetadata.Empty)).ConfigureAwait(false);
            }
            return revoked;
        }
        finally
        {
            if (noted)
            {
                reporter.EndRevoking(sessionId);
            }
        }
    }
}
