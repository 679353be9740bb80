using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Tessera.AspNetCore;

// Also the request's ISessionFeature (HttpContext.Session), whose ISession adapter is made on first use: most requests
// never ask for it.
internal sealed class TesseraSessionFeature(HttpContext context, HttpSession session, ISessionTransport transport) : ITesseraSessionFeature, ISessionFeature
{
    private bool _written;
    private ISession? _aspNetSession;

    public HttpSession Session { get; } = session;

    ISession ISessionFeature.Session
    {
        get => _aspNetSession ??= new TesseraAspNetSession(Session, this);
        set => _aspNetSession = value;
    }

    public bool Abandoned { get; set; }

    /// <summary>
    /// Whether the application refreshed the sign-in after a security-stamp change in this request
    /// (<c>RefreshSignInAndRevokeOtherSessionsAsync</c>): the session's stamp is being replaced, so it is not checked.
    /// </summary>
    public bool PrincipalRefreshed { get; set; }

    /// <summary>Whether the user store failed while the principal's security stamp was checked: the challenge answers 503.</summary>
    public bool PrincipalCheckFailed { get; set; }

    /// <summary>Whether the session has changes that must reach the store before the response may start.</summary>
    public bool MustCommitBeforeResponse => !_written && !Abandoned && Session.IsLoaded && Session.HasChanges;

    public Task CommitAsync(CancellationToken cancellationToken = default)
    {
        if (_written || Abandoned)
        {
            return Task.CompletedTask;
        }
        _written = true;
        // A read-only request's commit completes at once (nothing to write, or the memory store's touch): no state machine.
        // Failures come back in the task, as from an async method, never thrown from this call.
        try
        {
            var pending = Session.CommitOutcomeAsync(cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                return WrittenAsync(pending);
            }
            Written(pending.Result);
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    private async Task WrittenAsync(ValueTask<SessionCommitOutcome> pending) => Written(await pending.ConfigureAwait(false));

    private void Written(SessionCommitOutcome commit)
    {
        if (commit.Result.Change == CredentialChange.Issue || commit.IdleExpiresAt is not null)
        {
            // A sign-in through SignInAsync("Tessera") or through cookie authentication's ticket store chose the cookie's
            // persistence (IsPersistent) for its session; read only when a cookie may be written, so a read-only request
            // never parses the principal.
            commit = commit with { Persistent = PersistenceOf(Session) };
        }
        if (!context.Response.HasStarted)
        {
            transport.WriteCommit(context, commit);
        }
    }

    private static bool? PersistenceOf(HttpSession session) =>
        session.TryGetPrincipalJson(out var principal)
            ? SessionPrincipal.IsPersistent(principal)
            : TesseraTicketStore.PersistenceOf(session);
}
