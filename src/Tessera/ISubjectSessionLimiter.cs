namespace Tessera;

/// <summary>
/// A store that can cap the live sessions of one subject atomically, used by
/// <see cref="TesseraOptions.MaxSessionsPerSubject"/>. All of Tessera's stores implement it.
/// </summary>
/// <remarks>
/// One call reads the subject's live sessions, ranks them by <see cref="SessionLimitOrder"/>, and revokes every one
/// ranked below <c>keep</c>, with no other write to those sessions in between (under a lock, in one transaction or in
/// one script). Because each trim is atomic and the order is deterministic, concurrent sign-ins of one subject that
/// each trim after creating their session leave at most <c>keep</c> live sessions, whatever the interleaving. With
/// <see cref="SessionLimitOrder.NewcomerOnly"/> a trim revokes nothing but the session it names, so of concurrent
/// sign-ins that each trim that way, exactly <c>keep</c> (or all, when fewer) keep their session.
/// </remarks>
public interface ISubjectSessionLimiter
{
    /// <summary>
    /// Revokes the live sessions (not expired, not revoked) of <paramref name="subject"/> beyond the
    /// <paramref name="keep"/> that <paramref name="order"/> ranks first, atomically.
    /// </summary>
    /// <param name="subject">The subject.</param>
    /// <param name="keep">How many live sessions to keep; at least 1.</param>
    /// <param name="order">Which sessions rank first (are kept).</param>
    /// <param name="mustKeepId">
    /// A session ranked before all others when it is one of the subject's live sessions (the one just signed in);
    /// <see langword="null"/> for none. Under <see cref="SessionLimitOrder.NewcomerOnly"/> it is the reverse: the only
    /// session that may be revoked, and with <see langword="null"/> nothing is.
    /// </param>
    /// <param name="revokedAt">The revocation time written on the revoked sessions.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The ids of the sessions this call revoked, in no particular order; empty when none.</returns>
    ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);
}

/// <summary>How <see cref="ISubjectSessionLimiter.TrimSubjectAsync"/> ranks a subject's sessions; the first ranked are kept.</summary>
public enum SessionLimitOrder
{
    /// <summary>Most recently seen first (last seen descending, then created descending, then id descending).</summary>
    MostRecentlySeen = 0,

    /// <summary>Oldest first (created ascending, then id ascending).</summary>
    OldestCreated = 1,

    /// <summary>
    /// Every other session first: when the subject holds more than <c>keep</c> live sessions, the session named by
    /// <c>mustKeepId</c> (the one just signed in) is revoked, and no other session is touched, even if the subject holds
    /// more than <c>keep</c> without it (say, after the limit was lowered). Used by
    /// <see cref="SessionLimitPolicy.RefuseNewSignIn"/>: a trim never revokes a sign-in other than its own, so one that
    /// was accepted stays accepted whatever sign-ins race it (ranking racing sign-ins by creation time cannot promise
    /// that: one created in the same millisecond, or committed later, can rank before it).
    /// </summary>
    NewcomerOnly = 2,
}

/// <summary>What happens when a sign-in would give a subject more than <see cref="TesseraOptions.MaxSessionsPerSubject"/> live sessions.</summary>
public enum SessionLimitPolicy
{
    /// <summary>
    /// The new session is kept and the subject's least recently seen other sessions are revoked (reason
    /// <see cref="SessionRevocationReason.Limit"/>) until the limit holds. The default.
    /// </summary>
    RevokeLeastRecentlyUsed = 0,

    /// <summary>
    /// The subject's existing sessions are kept and the new sign-in is refused: its session is revoked (reason
    /// <see cref="SessionRevocationReason.Limit"/>) and the request ends anonymous (the cookie is cleared; a token
    /// sign-in gets <see cref="Tokens.TokenFailure.SessionLimitReached"/> from <see cref="Tokens.SessionTokenService.TryCreateAsync"/>,
    /// or <see cref="SessionLimitExceededException"/> from <see cref="Tokens.SessionTokenService.CreateAsync"/>).
    /// </summary>
    RefuseNewSignIn = 1,
}

/// <summary>
/// Thrown by <see cref="Tokens.SessionTokenService.CreateAsync"/> when <see cref="TesseraOptions.MaxSessionsPerSubject"/>
/// refuses the sign-in under <see cref="SessionLimitPolicy.RefuseNewSignIn"/>.
/// </summary>
public sealed class SessionLimitExceededException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionLimitExceededException() : base("The subject already holds the most sessions Tessera:MaxSessionsPerSubject allows, and the policy refuses new sign-ins.") { }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public SessionLimitExceededException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public SessionLimitExceededException(string message, Exception innerException) : base(message, innerException) { }
}
