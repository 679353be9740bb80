namespace Tessera;

/// <summary>
/// The sessions of one subject (user): "your devices", sign out one device, sign out everywhere, sign out every other
/// device. Cookie and token sessions alike, since both are the same session records. Reach it through
/// <see cref="SessionManager.Subjects"/>; thread-safe.
/// </summary>
/// <remarks>
/// Every operation needs a store that implements <see cref="ISubjectSessionIndex"/> (all of Tessera's stores do) and
/// throws <see cref="InvalidOperationException"/> otherwise. Revoking many sessions lists them and revokes each one
/// (each revoke is atomic), then lists again until a pass finds nothing left to revoke (at most three passes): a session
/// signed in while that runs is caught by the next pass, but one created after the last list survives. An application
/// that must be sure (after a password change, say) should also refuse sessions created before the change.
/// </remarks>
public sealed class SubjectSessions
{
    private const int MaxRevokePasses = 3;
    private readonly InstrumentedStore _store;
    private readonly SessionClock _clock;
    private readonly SessionRevoker _revoker;

    internal SubjectSessions(InstrumentedStore store, SessionClock clock, SessionRevoker revoker)
    {
        _store = store;
        _clock = clock;
        _revoker = revoker;
    }

    private ISubjectSessionIndex Index => _store.Store as ISubjectSessionIndex
        ?? throw new InvalidOperationException($"The session store {_store.Store.GetType().Name} cannot list a subject's sessions (it does not implement ISubjectSessionIndex), so per-user session management is unavailable with it.");

    /// <summary>Lists the live sessions (not expired, not revoked) of a subject, oldest first.</summary>
    /// <param name="subject">The subject; an unknown subject gives an empty list.</param>
    /// <param name="currentSessionId">
    /// The id of the session of the request asking (<c>session.Id</c>), so that one is flagged
    /// <see cref="SubjectSessionInfo.IsCurrent"/>; <see langword="null"/> flags none.
    /// </param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The sessions, without their data.</returns>
    /// <exception cref="InvalidOperationException">The store does not implement <see cref="ISubjectSessionIndex"/>.</exception>
    public async ValueTask<IReadOnlyList<SubjectSessionInfo>> ListAsync(string subject, string? currentSessionId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var index = Index;
        var now = _clock.Now();
        var records = await _store.ListBySubjectAsync(index, subject, cancellationToken).ConfigureAwait(false);
        return [.. records
            .Where(r => r.IsActiveAt(now) && string.Equals(r.Subject, subject, StringComparison.Ordinal))
            .Select(r => SubjectSessionInfo.From(r, string.Equals(r.Id, currentSessionId, StringComparison.Ordinal)))];
    }

    /// <summary>
    /// Revokes one of a subject's own sessions ("sign out that device"). A session of another subject is refused and
    /// left alone, so a user cannot end someone else's session by guessing or copying its id.
    /// </summary>
    /// <param name="subject">The subject asking.</param>
    /// <param name="sessionId">The session to revoke; it may be the current one (that signs the caller out).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// <see cref="SubjectSessionRevocation.Revoked"/>; <see cref="SubjectSessionRevocation.NotFound"/> when no live
    /// session has that id; <see cref="SubjectSessionRevocation.NotOwned"/> when it belongs to another subject or to
    /// nobody. Show the last two the same way to users, so ids of others cannot be probed.
    /// </returns>
    /// <exception cref="InvalidOperationException">The store does not implement <see cref="ISubjectSessionIndex"/>.</exception>
    public async ValueTask<SubjectSessionRevocation> RevokeAsync(string subject, string sessionId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(sessionId);
        _ = Index;
        var record = await _store.LoadAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            return SubjectSessionRevocation.NotFound;
        }
        if (!string.Equals(record.Subject, subject, StringComparison.Ordinal))
        {
            return SubjectSessionRevocation.NotOwned;
        }
        return await _revoker.RevokeAsync(sessionId, record, SessionRevocationReason.User, cancellationToken).ConfigureAwait(false) ? SubjectSessionRevocation.Revoked : SubjectSessionRevocation.NotFound;
    }

    /// <summary>
    /// Revokes any session by id, whoever it belongs to: for operators and support tools, never for a user acting on
    /// their own behalf (use <see cref="RevokeAsync"/>). The same as <see cref="SessionManager.RevokeAsync(string, CancellationToken)"/>.
    /// </summary>
    /// <param name="sessionId">The session to revoke.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see cref="SubjectSessionRevocation.Revoked"/>, or <see cref="SubjectSessionRevocation.NotFound"/> when no live session has that id.</returns>
    public async ValueTask<SubjectSessionRevocation> RevokeAsOperatorAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        return await _revoker.RevokeAsync(sessionId, null, SessionRevocationReason.Operator, cancellationToken).ConfigureAwait(false) ? SubjectSessionRevocation.Revoked : SubjectSessionRevocation.NotFound;
    }

    /// <summary>Revokes every live session of a subject ("sign out everywhere"), the caller's own included.</summary>
    /// <param name="subject">The subject.</param>
    /// <param name="cancellationToken">Cancels the operation; sessions revoked before cancellation stay revoked.</param>
    /// <returns>How many sessions were revoked.</returns>
    /// <exception cref="InvalidOperationException">The store does not implement <see cref="ISubjectSessionIndex"/>.</exception>
    public ValueTask<int> RevokeAllAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        return RevokeWhereAsync(subject, keepSessionId: null, cancellationToken);
    }

    /// <summary>
    /// Revokes every live session of a subject but one ("sign out other devices"). When <paramref name="keepSessionId"/>
    /// is not one of the subject's sessions, every session of the subject is revoked.
    /// </summary>
    /// <param name="subject">The subject.</param>
    /// <param name="keepSessionId">The session to keep, usually the current request's (<c>session.Id</c>).</param>
    /// <param name="cancellationToken">Cancels the operation; sessions revoked before cancellation stay revoked.</param>
    /// <returns>How many sessions were revoked.</returns>
    /// <exception cref="InvalidOperationException">The store does not implement <see cref="ISubjectSessionIndex"/>.</exception>
    public ValueTask<int> RevokeOthersAsync(string subject, string keepSessionId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(keepSessionId);
        return RevokeWhereAsync(subject, keepSessionId, cancellationToken);
    }

    private async ValueTask<int> RevokeWhereAsync(string subject, string? keepSessionId, CancellationToken cancellationToken)
    {
        var index = Index;
        var revoked = 0;
        for (var pass = 0; pass < MaxRevokePasses; pass++)
        {
            var records = await _store.ListBySubjectAsync(index, subject, cancellationToken).ConfigureAwait(false);
            var revokedThisPass = 0;
            foreach (var record in records)
            {
                if (string.Equals(record.Id, keepSessionId, StringComparison.Ordinal) || !string.Equals(record.Subject, subject, StringComparison.Ordinal))
                {
                    continue;
                }
                if (await _revoker.RevokeAsync(record.Id, record, SessionRevocationReason.User, cancellationToken).ConfigureAwait(false))
                {
                    revokedThisPass++;
                }
            }
            revoked += revokedThisPass;
            if (revokedThisPass == 0)
            {
                break;
            }
        }
        return revoked;
    }
}
