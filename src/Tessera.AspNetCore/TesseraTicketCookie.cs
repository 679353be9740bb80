using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;

namespace Tessera.AspNetCore;

/// <summary>
/// Stands in for cookie authentication's own cookie when its tickets live in Tessera (<c>AddTesseraTicketStore</c>): the
/// handler "reads its cookie" whenever the request presents Tessera's session cookie, and writes and deletes nothing,
/// because Tessera's cookie transport sets, renews and clears the one credential the browser holds. The "protected
/// ticket" is a fixed marker that only says "the ticket is in the request's session"; <see cref="TesseraTicketStore"/>
/// finds it there.
/// </summary>
/// <remarks>
/// The handler's ticket format and cookie manager are replaced for the schemes the ticket store serves, so its
/// <c>Cookie</c> settings (name, domain, path, SameSite, persistence) no longer matter there: Tessera's cookie options
/// govern the cookie. A cookie such a scheme set before the ticket store was added is ignored.
/// </remarks>
internal sealed class TesseraTicketCookie(RequestSessionOpener sessions) : ICookieManager, ISecureDataFormat<AuthenticationTicket>
{
    // The claim the cookie handler looks for in the ticket it unprotects, to call the ticket store with its value.
    private const string SessionKeyClaimType = "Microsoft.AspNetCore.Authentication.Cookies-SessionId";
    private const string Marker = "tessera-session";

    /// <summary>The marker when the request presents Tessera's session cookie (read, not verified: no store call); otherwise <see langword="null"/>.</summary>
    public string? GetRequestCookie(HttpContext context, string key) =>
        !RequestSessionOpener.IsDisabled(context) && sessions.PresentsCookieCredential(context) ? Marker : null;

    /// <summary>Does nothing: Tessera's cookie transport writes the credential when the session commits.</summary>
    public void AppendResponseCookie(HttpContext context, string key, string? value, CookieOptions options)
    {
    }

    /// <summary>Does nothing: signing out destroyed the session, and Tessera's cookie transport clears its cookie.</summary>
    public void DeleteCookie(HttpContext context, string key, CookieOptions options)
    {
    }

    /// <summary>The marker: the ticket itself is in the session.</summary>
    public string Protect(AuthenticationTicket data) => Marker;

    /// <summary>The marker: the ticket itself is in the session.</summary>
    public string Protect(AuthenticationTicket data, string? purpose) => Marker;

    /// <summary>For the marker, a ticket that sends the handler to the ticket store; anything else is <see langword="null"/>.</summary>
    public AuthenticationTicket? Unprotect(string? protectedText) => Unprotect(protectedText, purpose: null);

    /// <summary>For the marker, a ticket that sends the handler to the ticket store; anything else is <see langword="null"/>.</summary>
    public AuthenticationTicket? Unprotect(string? protectedText, string? purpose) =>
        string.Equals(protectedText, Marker, StringComparison.Ordinal)
            ? new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(SessionKeyClaimType, Marker)], TesseraAuthenticationDefaults.CookieAuthenticationType)), CookieAuthenticationDefaults.AuthenticationScheme)
            : null;
}
