using Microsoft.Extensions.Logging;

namespace Tessera;

/// <summary>One request's changes to a session, as <see cref="SessionCommitter"/> writes them.</summary>
/// <param name="Existing">The stored session the request loaded and still holds, or <see langword="null"/>.</param>
/// <param name="Destroyed">The stored session the request destroyed, or <see langword="null"/>.</param>
/// <param name="Data">The request's data bag.</param>
/// <param name="Subject">The subject after this request.</param>
/// <param name="SubjectChanged">Whether the request signed a subject in.</param>
/// <param name="Regenerate">Whether the request asked for a new credential.</param>
/// <param name="CredentialKind">The kind of credential the request's view was opened with.</param>
/// <param name="PendingId">The id a new session will be stored under, if the request already showed one.</param>
/// <param name="Metadata">Reads the request's metadata, only when a session is created.</param>
internal readonly record struct SessionChanges(
    SessionRecord? Existing,
    SessionRecord? Destroyed,
    SessionData Data,
    string? Subject,
    bool SubjectChanged,
    bool Regenerate,
    SessionCredentialKind CredentialKind,
    string? PendingId,
    ISessionMetadataSource Metadata);

/// <summary>Where a new session's metadata comes from: the request, read only when a session is created.</summary>
internal interface ISessionMetadataSource
{
    /// <summary>Reads the metadata to record.</summary>
    SessionMetadata CaptureMetadata();
}

/// <summary>What <see cref="SessionCommitter.CommitAsync"/> did.</summary>
/// <param name="Outcome">The result and what the transport may show of it.</param>
/// <param name="SignInRefused">Whether the session limit refused the sign-in (the session was revoked).</param>
/// <param name="CreatedId">The id of the session created, or <see langword="null"/> when none was.</param>
internal readonly record struct SessionCommitted(SessionCommitOutcome Outcome, bool SignInRefused, string? CreatedId);

/// <summary>
/// Plans and writes one request's commit: revokes a destroyed session; for a stored one, applies the per-key patch
/// (with a new credential when asked) or, with nothing to write, extends the idle deadline; either way the deadline moves
/// at most once per touch interval unless the subject or credential changes; for a new one with something to keep, creates it. A sign-in then goes through the subject's session limit.
/// </summary>
internal sealed class SessionCommitter(
    InstrumentedStore store,
    TesseraOptions options,
    SessionClock clock,
    CookieCredential credentials,
    SessionRevoker revoker,
    SubjectSessionLimit limit,
    SessionReporter reporter,
    ILogger logger)
{
    private static readonly SessionCommitted Unchanged = new(new SessionCommitOutcome(SessionCommitResult.Unchanged, null, null, false), false, null);

    /// <summary>Writes <paramref name="changes"/>; nothing when nothing changed.</summary>
    public ValueTask<SessionCommitted> CommitAsync(SessionChanges changes, CancellationToken cancellationToken)
    {
        var now = clock.Now();
        // Most requests only read a stored session, inside its touch interval: nothing to write, answered without the
        // asynchronous machinery below (CommitExistingAsync answers the same for them).
        if (changes.Destroyed is null && changes.Existing is { } record && !Writes(changes) && now - record.LastSeenAt < options.TouchInterval)
        {
            return new(Unchanged);
        }
        return CommitChangesAsync(changes, now, cancellationToken);
    }

    private static bool Writes(in SessionChanges changes) => changes.Data.HasChanges || changes.SubjectChanged || changes.Regenerate;

    private async ValueTask<SessionCommitted> CommitChangesAsync(SessionChanges changes, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var committed = Unchanged;
        if (changes.Destroyed is { } destroyed)
        {
            await revoker.RevokeAsync(destroyed.Id, destroyed, SessionRevocationReason.SignOut, cancellationToken).ConfigureAwait(false);
            committed = Cleared(signedOut: true);
        }
        if (changes.Existing is { } record)
        {
            committed = await CommitExistingAsync(changes, record, now, cancellationToken).ConfigureAwait(false);
        }
        else if (changes.Data.HasDataToKeep() || changes.Subject is not null)
        {
            committed = await CreateAsync(changes, now, cancellationToken).ConfigureAwait(false);
        }
        return committed;
    }

    private async ValueTask<SessionCommitted> CommitExistingAsync(SessionChanges changes, SessionRecord record, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Extending never shortens: a token session's idle deadline follows its refresh token and may lie further out.
        // The subject after this commit decides the timeout: signing in moves the session onto the longer one at once.
        // A sign-in that ends before the absolute deadline (an authentication's ExpiresUtc) caps both.
        var absolute = Ends(record.AbsoluteExpiresAt, changes.Data);
        var idle = Min(Max(record.IdleExpiresAt, Min(now + options.IdleTimeoutFor(changes.Subject), absolute)), absolute);
        if (!Writes(changes))
        {
            DateTimeOffset? touched = null;
            if (now - record.LastSeenAt >= options.TouchInterval)
            {
                try
                {
                    if (await store.TouchAsync(record.Id, now, idle, cancellationToken).ConfigureAwait(false))
                    {
                        touched = idle;
                    }
                }
                catch (Exception e) when (e is SessionStoreUnavailableException or SessionWriteRefusedException && changes.Destroyed is null)
                {
                    // A read-only request's answer does not depend on the touch: serve it, and let a later request
                    // extend the deadline (the session can only end sooner than it would have, never later). A store
                    // may also refuse the touch where it cannot write (the cookie store in a hub invocation).
                    Log.TouchFailed(logger, Log.Ref(record.Id), Log.ErrorType(e));
                }
            }
            var result = changes.Destroyed is null ? SessionCommitResult.Unchanged : SessionCommitResult.Cleared;
            return new SessionCommitted(new SessionCommitOutcome(result, touched, touched is null ? null : absolute, false), false, null);
        }
        // A write extends the idle deadline as a read does: at most once per touch interval. Written with every change,
        // the deadline would move an indexed column on every write (PostgreSQL's expiry index), so no update could stay
        // on its page (a HOT update) and each one would add an entry to every index. A sign-in, a sign-out, a new
        // credential and a deadline that must come sooner (a sign-in's end) are still written at once.
        var deadlines = changes.SubjectChanged || changes.Regenerate || idle < record.IdleExpiresAt
            || now - record.LastSeenAt >= options.TouchInterval;
        var credential = changes.Regenerate ? credentials.Issue(SessionRoute.Of(record.Id)) : null;
        if (!await store.ApplyAsync(record.Id, Patch(changes, credential, deadlines ? now : null, deadlines ? idle : null), cancellationToken).ConfigureAwait(false))
        {
            // Revoked or expired by someone else while this request ran: never resurrect it.
            Log.SessionVanished(logger, Log.Ref(record.Id));
            return Cleared(signedOut: false);
        }
        if (changes.SubjectChanged && changes.Subject is not null)
        {
            if (!await limit.EnforceOrRevokeAsync(changes.Subject, record.Id, record.Metadata, cancellationToken).ConfigureAwait(false))
            {
                return Refused((idle, absolute));
            }
            await reporter.SignedInAsync(new SessionSignedInEvent(record.Id, changes.Subject, record.Subject, changes.CredentialKind, now, record.Metadata)).ConfigureAwait(false);
        }
        var written = credential is null
            ? SessionCommitResult.Unchanged
            : new SessionCommitResult(CredentialChange.Issue, credential.Value, absolute, record.Id);
        return new SessionCommitted(deadlines ? new SessionCommitOutcome(written, idle, absolute, false) : new SessionCommitOutcome(written, null, null, false), false, null);
    }

    private async ValueTask<SessionCommitted> CreateAsync(SessionChanges changes, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var data = changes.Data.NewData();
        var absolute = Ends(now + options.AbsoluteLifetime, changes.Data);
        var metadata = options.Metadata.Apply(changes.Metadata.CaptureMetadata());
        var id = changes.PendingId;
        for (var attempt = 0; ; attempt++)
        {
            id ??= SessionIds.NewId();
            var credential = credentials.Issue(SessionRoute.Of(id));
            var record = new SessionRecord
            {
                Id = id,
                CredentialHash = credential.Hash,
                Subject = changes.Subject,
                Data = data,
                CreatedAt = now,
                LastSeenAt = now,
                IdleExpiresAt = Min(now + options.IdleTimeoutFor(changes.Subject), absolute),
                AbsoluteExpiresAt = absolute,
                Metadata = metadata,
            };
            if (await store.CreateAsync(record, cancellationToken).ConfigureAwait(false))
            {
                Log.SessionCreated(logger, Log.Ref(record.Id));
                await reporter.CreatedAsync(new SessionCreatedEvent(record.Id, record.Subject, changes.CredentialKind, now, metadata)).ConfigureAwait(false);
                if (changes.Subject is not null)
                {
                    if (!await limit.EnforceOrRevokeAsync(changes.Subject, record.Id, metadata, cancellationToken).ConfigureAwait(false))
                    {
                        return Refused((record.IdleExpiresAt, absolute)) with { CreatedId = record.Id };
                    }
                    await reporter.SignedInAsync(new SessionSignedInEvent(record.Id, changes.Subject, null, changes.CredentialKind, now, metadata)).ConfigureAwait(false);
                }
                var issued = new SessionCommitResult(CredentialChange.Issue, credential.Value, absolute, record.Id);
                return new SessionCommitted(new SessionCommitOutcome(issued, record.IdleExpiresAt, absolute, false), false, record.Id);
            }
            if (attempt >= 2)
            {
                throw new InvalidOperationException("Could not create a session: three random ids collided, which points at a broken random source or store.");
            }
            id = null;
        }
    }

    private static SessionCommitted Cleared(bool signedOut) =>
        new(new SessionCommitOutcome(SessionCommitResult.Cleared, null, null, signedOut), false, null);

    // The session limit revoked this request's session: it ends anonymous, and the client's credential is cleared. The
    // deadlines written before the limit revoked it stay reported, as they were.
    private static SessionCommitted Refused((DateTimeOffset Idle, DateTimeOffset Absolute) written) =>
        new(new SessionCommitOutcome(SessionCommitResult.Cleared, written.Idle, written.Absolute, false), true, null);

    private static SessionPatch Patch(SessionChanges changes, IssuedCredential? credential, DateTimeOffset? lastSeen, DateTimeOffset? idle)
    {
        var (set, removed) = changes.Data.Changes();
        return new SessionPatch
        {
            ClearData = changes.Data.Cleared,
            Set = set,
            Removed = removed,
            SubjectChanged = changes.SubjectChanged,
            Subject = changes.Subject,
            NewCredentialHash = credential?.Hash,
            LastSeenAt = lastSeen,
            IdleExpiresAt = idle,
        };
    }

    /// <summary>
    /// When a session ends at the latest: its absolute deadline, or the end of its sign-in
    /// (<see cref="SessionKeys.SignInEndsKey"/>) when that comes first.
    /// </summary>
    internal static DateTimeOffset Ends(DateTimeOffset absolute, in SessionData data) =>
        data.TryGetJson(SessionKeys.SignInEndsKey, out var json)
            && long.TryParse(json, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            && ms < absolute.ToUnixTimeMilliseconds()
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : absolute;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
