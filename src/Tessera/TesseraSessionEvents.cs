using Microsoft.Extensions.Logging;

namespace Tessera;

/// <summary>
/// Hooks an application sets to hear about session lifecycle events (audit logs, security alerts, notifications):
/// <c>options.Events.OnRevoked = e =&gt; ...</c>. Every hook is <see langword="null"/> by default (nothing is called).
/// Set them in <c>AddTessera(options =&gt; ...)</c>, or with
/// <c>services.AddOptions&lt;TesseraOptions&gt;().Configure&lt;TService&gt;((o, s) =&gt; ...)</c> when a hook needs a service.
/// </summary>
/// <remarks>
/// A hook runs after the store has made the change, on the request (or cleanup run) that made it, and is awaited.
/// Exceptions it throws are logged (event id 1011) and swallowed: a failing hook never undoes or changes a session
/// decision. Contexts carry ids, subjects, times, reasons and metadata, never a credential or session data. Refresh-token
/// reuse keeps its own hook, <see cref="Tokens.TesseraTokenEvents.OnRefreshTokenReused"/>, and also raises
/// <see cref="OnRevoked"/> with <see cref="SessionRevocationReason.Leak"/>.
/// </remarks>
public sealed class TesseraSessionEvents
{
    /// <summary>
    /// Called once when a session is stored for the first time: a cookie session at the commit of the request that first
    /// writes to it, a token session by <see cref="Tokens.SessionTokenService.CreateAsync"/>. Default <see langword="null"/>.
    /// </summary>
    public Func<SessionCreatedEvent, ValueTask>? OnCreated { get; set; }

    /// <summary>
    /// Called once when a subject signs in: at the commit of a request that called <see cref="TesseraSession.SignIn"/>
    /// (after <see cref="OnCreated"/> when the sign-in created the session, else after the credential was regenerated),
    /// and when a token session is created with a subject. A plain <see cref="TesseraSession.Regenerate"/> raises nothing.
    /// Default <see langword="null"/>.
    /// </summary>
    public Func<SessionSignedInEvent, ValueTask>? OnSignedIn { get; set; }

    /// <summary>
    /// Called once when a live session is revoked, with why. Revoking a session that was already revoked or missing
    /// raises nothing. Default <see langword="null"/>.
    /// </summary>
    public Func<SessionRevokedEvent, ValueTask>? OnRevoked { get; set; }

    /// <summary>
    /// Called by cleanup for each store batch that deleted expired sessions, with how many (stores delete expired
    /// sessions in bulk and do not name them). Sessions deleted because <see cref="TesseraOptions.RevokedRetention"/>
    /// passed are not counted: they already raised <see cref="OnRevoked"/>. Default <see langword="null"/>.
    /// </summary>
    public Func<SessionsExpiredEvent, ValueTask>? OnExpired { get; set; }
}

/// <summary>Why a session was revoked.</summary>
public enum SessionRevocationReason
{
    /// <summary>
    /// The session's own holder signed out: <see cref="TesseraSession.SignOut"/> or <see cref="TesseraSession.Destroy"/>,
    /// or a token client's logout (<see cref="Tokens.SessionTokenService.InvalidateAsync"/>). Metric tag <c>sign_out</c>.
    /// </summary>
    SignOut = 0,

    /// <summary>
    /// An operator or the application revoked it by id: <see cref="SessionManager.RevokeAsync(string, CancellationToken)"/>
    /// or <see cref="SubjectSessions.RevokeAsOperatorAsync"/>. Metric tag <c>operator</c>.
    /// </summary>
    Operator = 1,

    /// <summary>
    /// The per-subject session limit (<see cref="TesseraOptions.MaxSessionsPerSubject"/>) revoked it: an older session,
    /// or the refused newcomer under <see cref="SessionLimitPolicy.RefuseNewSignIn"/>. Metric tag <c>limit</c>.
    /// </summary>
    Limit = 2,

    /// <summary>
    /// A rotated refresh token was used again outside the grace window, or after its successor was itself rotated
    /// (possible theft). Metric tag <c>leak</c>.
    /// </summary>
    Leak = 3,

    /// <summary>
    /// A subject ended one of their sessions from another one, or all of them ("sign out other devices",
    /// "sign out everywhere"): <see cref="SubjectSessions"/>. Metric tag <c>user</c>.
    /// </summary>
    User = 4,

    /// <summary>
    /// The application's check of the signed-in principal refused it: with <c>AddTesseraIdentity</c>, ASP.NET Core
    /// Identity's security stamp changed (a password change, <c>UpdateSecurityStampAsync</c>) or the user was deleted.
    /// Metric tag <c>principal_rejected</c>.
    /// </summary>
    PrincipalRejected = 5,
}

/// <summary>A session was stored for the first time.</summary>
/// <param name="SessionId">The session id (never a credential).</param>
/// <param name="Subject">The signed-in subject, or <see langword="null"/> for an anonymous session.</param>
/// <param name="CredentialKind">Whether it is a cookie session or a token session.</param>
/// <param name="Time">When it was created.</param>
/// <param name="Metadata">The metadata recorded with it, after the privacy policy of <see cref="TesseraOptions.Metadata"/>.</param>
public sealed record SessionCreatedEvent(string SessionId, string? Subject, SessionCredentialKind CredentialKind, DateTimeOffset Time, SessionMetadata Metadata);

/// <summary>A subject signed in.</summary>
/// <param name="SessionId">The session id (never a credential).</param>
/// <param name="Subject">The subject now signed in.</param>
/// <param name="PreviousSubject">The subject the session had before, or <see langword="null"/> (anonymous or new).</param>
/// <param name="CredentialKind">Whether it is a cookie session or a token session.</param>
/// <param name="Time">When the sign-in was committed.</param>
/// <param name="Metadata">The session's metadata (recorded at its creation).</param>
public sealed record SessionSignedInEvent(string SessionId, string Subject, string? PreviousSubject, SessionCredentialKind CredentialKind, DateTimeOffset Time, SessionMetadata Metadata);

/// <summary>A live session was revoked.</summary>
/// <param name="SessionId">The session id (never a credential).</param>
/// <param name="Subject">Its subject, or <see langword="null"/> when anonymous or when it could not be read before revocation.</param>
/// <param name="Reason">Why.</param>
/// <param name="Time">When.</param>
/// <param name="Metadata">Its metadata, or <see cref="SessionMetadata.Empty"/> when it could not be read.</param>
public sealed record SessionRevokedEvent(string SessionId, string? Subject, SessionRevocationReason Reason, DateTimeOffset Time, SessionMetadata Metadata);

/// <summary>Cleanup deleted expired sessions; stores delete in bulk, so this carries a count, not ids.</summary>
/// <param name="Count">How many expired sessions one store batch deleted; at least 1.</param>
/// <param name="Time">When the batch finished.</param>
public sealed record SessionsExpiredEvent(int Count, DateTimeOffset Time);

/// <summary>Raises event hooks, logging and swallowing what they throw.</summary>
internal static class SessionEventDispatch
{
    public static async ValueTask RaiseAsync<T>(Func<T, ValueTask>? handler, T context, ILogger logger)
    {
        if (handler is null)
        {
            return;
        }
        try
        {
            await handler(context).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Even a cancellation: the hook ran after the store changed, so nothing may undo or fail that decision.
            Log.EventHandlerFailed(logger, e);
        }
    }

    /// <summary>The stable tag value of a reason (snake case, as the docs list them).</summary>
    public static string TagValue(this SessionRevocationReason reason) => reason switch
    {
        SessionRevocationReason.SignOut => "sign_out",
        SessionRevocationReason.Operator => "operator",
        SessionRevocationReason.Limit => "limit",
        SessionRevocationReason.Leak => "leak",
        SessionRevocationReason.User => "user",
        SessionRevocationReason.PrincipalRejected => "principal_rejected",
        _ => "other",
    };
}
