using Microsoft.Extensions.Logging;

namespace Tessera;

/// <summary>
/// <see cref="TesseraOptions.MaxSessionsPerSubject"/>: after a session is signed in, one atomic store trim of its
/// subject's sessions (<see cref="ISubjectSessionLimiter"/>), then the report of every session it revoked. Cookie
/// commits and token sessions both go through it.
/// </summary>
internal sealed class SubjectSessionLimit(InstrumentedStore store, TesseraOptions options, SessionClock clock, SessionReporter reporter, ILogger logger)
{
    /// <summary>
    /// Applies the limit after <paramref name="sessionId"/> was signed in as <paramref name="subject"/>; does nothing
    /// when no limit is set.
    /// </summary>
    /// <returns><see langword="false"/> when the new session was revoked (the sign-in is refused).</returns>
    public async ValueTask<bool> EnforceAsync(string subject, string sessionId, SessionMetadata metadata, CancellationToken cancellationToken)
    {
        if (options.MaxSessionsPerSubject is not { } keep)
        {
            return true;
        }
        var limiter = (ISubjectSessionLimiter)store.Store;
        var refuse = options.SessionLimitPolicy == SessionLimitPolicy.RefuseNewSignIn;
        Dictionary<string, SessionMetadata>? known = null;
        if (reporter.ObservesRevocations && store.Store is ISubjectSessionIndex index)
        {
            // Only a subscriber needs the revoked sessions' metadata, and a revoked session can no longer be read.
            var before = await store.ListBySubjectAsync(index, subject, cancellationToken).ConfigureAwait(false);
            if (before.Count <= keep)
            {
                return true;
            }
            known = before.ToDictionary(r => r.Id, r => r.Metadata, StringComparer.Ordinal);
        }
        var now = clock.Now();
        var noted = reporter.BeginLimiting(subject);
        try
        {
            var revoked = await store.TrimSubjectAsync(
                limiter,
                subject,
                keep,
                // Refusing revokes only the newcomer, so a sign-in once accepted is never revoked by a racing one.
                refuse ? SessionLimitOrder.NewcomerOnly : SessionLimitOrder.MostRecentlySeen,
                sessionId,
                now,
                cancellationToken).ConfigureAwait(false);
            var kept = true;
            foreach (var id in revoked)
            {
                var newcomer = string.Equals(id, sessionId, StringComparison.Ordinal);
                kept &= !newcomer;
                var revokedMetadata = newcomer ? metadata
                    : known is not null && known.TryGetValue(id, out var m) ? m
                    : SessionMetadata.Empty;
                await reporter.RevokedAsync(new SessionRevokedEvent(id, subject, SessionRevocationReason.Limit, now, revokedMetadata)).ConfigureAwait(false);
            }
            return kept;
        }
        finally
        {
            if (noted is not null)
            {
                reporter.EndLimiting(noted);
            }
        }
    }

    /// <summary>
    /// Applies the limit at a sign-in whose session is already written. A sign-in is two store steps: the session's
    /// write, then the subject's limit. When the second fails, the session is signed in under a credential the client
    /// will never receive (the response is a 503) and may be one too many for the limit: it is revoked if the store
    /// allows, so the failed sign-in leaves no live session behind, and the failure is rethrown.
    /// </summary>
    /// <returns><see langword="false"/> when the new session was revoked (the sign-in is refused).</returns>
    public async ValueTask<bool> EnforceOrRevokeAsync(string subject, string sessionId, SessionMetadata metadata, CancellationToken cancellationToken)
    {
        try
        {
            return await EnforceAsync(subject, sessionId, metadata, cancellationToken).ConfigureAwait(false);
        }
        catch (SessionStoreUnavailableException e)
        {
            Log.SignInLimitFailed(logger, Log.Ref(sessionId), Log.ErrorType(e));
            try
            {
                await store.RevokeAsync(sessionId, clock.Now(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (SessionStoreUnavailableException)
            {
                // The store is down: the session keeps a credential nobody holds and ends at its idle deadline.
            }
            throw;
        }
    }
}
