using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.AspNetCore.Identity;

namespace Tessera.AspNetCore;

/// <summary>
/// Cookie authentication's <see cref="ITicketStore"/> over the request's own Tessera session, one instance per cookie
/// scheme (<c>AddTesseraTicketStore</c>). The ticket is kept, serialized, in the session under a reserved key per scheme;
/// the session is the one the request's Tessera cookie opens, so a browser has one session whether the app reads it
/// through <see cref="HttpSession"/> or through <c>HttpContext.User</c>, and everything Tessera does to a session
/// (expiry, revocation, limits, the near cache) applies to the sign-in.
/// </summary>
/// <remarks>
/// The key the cookie handler passes around is not used: <see cref="TesseraTicketCookie"/> stands in for the handler's
/// cookie, so the only credential the browser holds is Tessera's, and a ticket is found only in the session that
/// credential opens (never by a key a client could copy). Renewing writes only when the ticket really changed (its
/// principal, or the issue and expiry times the handler moves when <c>SlidingExpiration</c> renews, at most once per half
/// of <c>ExpireTimeSpan</c>); the idle deadline slides through Tessera's touch, at most once per touch interval.
/// </remarks>
internal sealed partial class TesseraTicketStore(string scheme, RequestSessionOpener sessions, ILogger logger) : ITicketStore
{
    /// <summary>The reserved-key prefix of every scheme's ticket.</summary>
    public const string TicketPrefix = "ticket:";

    /// <summary>
    /// The reserved key (after the reserved prefix) of the session cookie's persistence as the last cookie sign-in asked
    /// (its <see cref="AuthenticationProperties.IsPersistent"/>): JSON <c>true</c> or <c>false</c>.
    /// </summary>
    public const string PersistentName = "cookie-persistent";

    private readonly string _name = TicketPrefix + scheme;

    public Task<string> StoreAsync(AuthenticationTicket ticket) => throw NeedsRequest();

    public Task RenewAsync(string key, AuthenticationTicket ticket) => throw NeedsRequest();

    public Task<AuthenticationTicket?> RetrieveAsync(string key) => throw NeedsRequest();

    public Task RemoveAsync(string key) => throw NeedsRequest();

    /// <summary>
    /// Signs the request's session in as the ticket's subject (a new credential, anonymous data kept) and keeps the ticket
    /// in it, with the ticket's <see cref="AuthenticationProperties.IsPersistent"/> for Tessera's cookie.
    /// </summary>
    public async Task<string> StoreAsync(AuthenticationTicket ticket, HttpContext httpContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var subject = SubjectOf(ticket.Principal);
        var session = await LoadAsync(httpContext, cancellationToken).ConfigureAwait(false);
        session.SignIn(subject);
        session.SetReservedJson(_name, Serialize(ticket));
        KeepPersistence(session, ticket);
        return session.Id;
    }

    /// <summary>The ticket of the request's live session for this scheme, or <see langword="null"/>.</summary>
    public async Task<AuthenticationTicket?> RetrieveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        if (RequestSessionOpener.IsDisabled(httpContext) || !sessions.PresentsCookieCredential(httpContext))
        {
            return null;
        }
        var session = await LoadAsync(httpContext, cancellationToken).ConfigureAwait(false);
        // The failure contract: a store that cannot say is a 503 from the middleware, not a redirect to sign in.
        session.ThrowIfStoreUnavailable();
        if (session.Subject is not { } subject || !session.TryGetReservedJson(_name, out var json) || json is null)
        {
            return null;
        }
        var ticket = Deserialize(json);
        if (ticket is null || !string.Equals(ticket.AuthenticationScheme, scheme, StringComparison.Ordinal) || !string.Equals(SessionPrincipal.SubjectOf(ticket.Principal), subject, StringComparison.Ordinal))
        {
            Log.TicketUnreadable(logger, scheme);
            return null;
        }
        if (httpContext.RequestServices.GetService<SecurityStampCheck>() is { } stamps)
        {
            switch (await stamps.CheckAsync(httpContext, sessions.GetOrOpen(httpContext), ticket.Principal, ticket.Properties.IssuedUtc).ConfigureAwait(false))
            {
                case StampCheckResult.Rejected:
                    return null;
                case StampCheckResult.Unavailable:
                    // As for the session store: a 503 from the middleware, never a redirect to sign in.
                    throw new SessionStoreUnavailableException("The user store failed while the security stamp of the request's sign-in was checked.");
                default:
                    break;
            }
        }
        return ticket;
    }

    /// <summary>
    /// Keeps the renewed ticket when it differs from the stored one; a ticket for another subject signs the session in
    /// again as that subject, and a ticket whose <see cref="AuthenticationProperties.IsPersistent"/> changed (a sign-in
    /// again with "remember me") regenerates the credential, so the new cookie carries the new persistence. A response
    /// whose session is already committed keeps the stored ticket (the next request renews again).
    /// </summary>
    public async Task RenewAsync(string key, AuthenticationTicket ticket, HttpContext httpContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var session = await LoadAsync(httpContext, cancellationToken).ConfigureAwait(false);
        if (session.Subject is null)
        {
            return; // ended during this request (destroyed or signed out): nothing to renew, nothing to bring back
        }
        if (session.IsCommitted)
        {
            Log.RenewalDeferred(logger, scheme);
            return;
        }
        var subject = SubjectOf(ticket.Principal);
        if (!string.Equals(subject, session.Subject, StringComparison.Ordinal))
        {
            session.SignIn(subject);
        }
        var json = Serialize(ticket);
        if (session.TryGetReservedJson(_name, out var stored) && string.Equals(stored, json, StringComparison.Ordinal))
        {
            return;
        }
        session.SetReservedJson(_name, json);
        // Only this scheme's own change of mind counts (a sliding renewal keeps IsPersistent), so two schemes of different
        // persistence in one session never take turns regenerating the credential.
        var wasPersistent = stored is null ? (bool?)null : Deserialize(stored)?.Properties.IsPersistent;
        if (wasPersistent != ticket.Properties.IsPersistent && KeepPersistence(session, ticket))
        {
            session.Regenerate(); // the cookie is written only with a credential: a new one carries the new persistence
        }
    }

    /// <summary>
    /// Signs out: destroys the session (every credential of it, on every instance), unless another cookie scheme still
    /// keeps a ticket in it, in which case only this scheme's ticket goes.
    /// </summary>
    public async Task RemoveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken)
    {
        var session = await LoadAsync(httpContext, cancellationToken).ConfigureAwait(false);
        if (session.HasOtherReserved(TicketPrefix, _name))
        {
            session.RemoveReserved(_name);
            return;
        }
        session.SignOut();
    }

    public Task<string> StoreAsync(AuthenticationTicket ticket, CancellationToken cancellationToken) => throw NeedsRequest();

    public Task RenewAsync(string key, AuthenticationTicket ticket, CancellationToken cancellationToken) => throw NeedsRequest();

    public Task<AuthenticationTicket?> RetrieveAsync(string key, CancellationToken cancellationToken) => throw NeedsRequest();

    public Task RemoveAsync(string key, CancellationToken cancellationToken) => throw NeedsRequest();

    /// <summary>The Tessera subject of a ticket's principal (<see cref="SessionPrincipal.SubjectOf"/>).</summary>
    /// <exception cref="InvalidOperationException">The principal has no subject.</exception>
    private static string SubjectOf(ClaimsPrincipal principal) =>
        SessionPrincipal.RequireSubject(principal, "Cookie authentication's ticket store (AddTesseraTicketStore)");

    /// <summary>Whether the session cookie is persistent, as a ticket store's sign-in recorded; <see langword="null"/> when none did.</summary>
    public static bool? PersistenceOf(HttpSession session) =>
        session.TryGetReservedJson(PersistentName, out var json) ? json == PersistentJson : null;

    private const string PersistentJson = "true";

    // Records the ticket's persistence for Tessera's cookie; whether it changed (false when it was recorded before as it is).
    private static bool KeepPersistence(HttpSession session, AuthenticationTicket ticket)
    {
        var persistent = ticket.Properties.IsPersistent;
        if (PersistenceOf(session) == persistent)
        {
            return false;
        }
        session.SetReservedJson(PersistentName, persistent ? PersistentJson : "false");
        return true;
    }

    private static string Serialize(AuthenticationTicket ticket) =>
        JsonSerializer.Serialize(Convert.ToBase64String(TicketSerializer.Default.Serialize(ticket)));

    private static AuthenticationTicket? Deserialize(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<string>(json) is { } text ? TicketSerializer.Default.Deserialize(Convert.FromBase64String(text)) : null;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or EndOfStreamException or IOException)
        {
            return null;
        }
    }

    private async ValueTask<HttpSession> LoadAsync(HttpContext httpContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var session = sessions.GetOrOpen(httpContext).Session;
        if (session.CredentialKind != SessionCredentialKind.Cookie)
        {
            throw new InvalidOperationException("Cookie authentication keeps its ticket in the request's Tessera cookie session; this request carries a bearer token instead.");
        }
        await session.LoadAsync(cancellationToken).ConfigureAwait(false);
        return session;
    }

    private static InvalidOperationException NeedsRequest() =>
        new("Tessera's ticket store keeps a ticket in the request's session: it is called with the HttpContext (as the cookie authentication handler does), never without.");

    private static partial class Log
    {
        [LoggerMessage(2701, LogLevel.Warning, "The cookie-authentication ticket of scheme {Scheme} kept in the session could not be read or does not match the session's subject; the request is not authenticated by it.")]
        public static partial void TicketUnreadable(ILogger logger, string scheme);

        [LoggerMessage(2702, LogLevel.Debug, "The cookie-authentication ticket of scheme {Scheme} was not renewed: the session was already committed when the cookie handler renewed it (the next request renews it again).")]
        public static partial void RenewalDeferred(ILogger logger, string scheme);
    }
}
