using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Tessera.Tokens;

namespace Tessera.AspNetCore;

/// <summary>Names used by Tessera's authentication handler.</summary>
public static class TesseraAuthenticationDefaults
{
    /// <summary>The authentication scheme name: <c>Tessera</c>.</summary>
    public const string AuthenticationScheme = "Tessera";

    /// <summary>The <see cref="ClaimsIdentity.AuthenticationType"/> of a user signed in with a session cookie: <c>Tessera.Cookie</c>.</summary>
    public const string CookieAuthenticationType = "Tessera.Cookie";

    /// <summary>The <see cref="ClaimsIdentity.AuthenticationType"/> of a user signed in with an access token: <c>Tessera.Bearer</c>.</summary>
    public const string BearerAuthenticationType = "Tessera.Bearer";

    /// <summary>The claim type carrying the session id: <c>sid</c> (the id, never a credential).</summary>
    public const string SessionIdClaimType = "sid";

    /// <summary>
    /// The <c>error_description</c> of a bearer challenge when the token is valid but its session has no subject
    /// (an anonymous token session): <c>anonymous_session</c>.
    /// </summary>
    public const string AnonymousSessionReason = "anonymous_session";
}

/// <summary>Options of Tessera's authentication handler. There is nothing to configure beyond the ASP.NET Core basics.</summary>
public sealed class TesseraAuthenticationOptions : AuthenticationSchemeOptions
{
}

/// <summary>
/// Authenticates a request from its Tessera session (cookie or bearer token): a live session with a subject gives a
/// principal whose <see cref="ClaimTypes.NameIdentifier"/> and <see cref="ClaimTypes.Name"/> are the subject and whose
/// <c>sid</c> is the session id; no session, or a session without a subject, is not authenticated. The session is the
/// request's own (loaded once, shared with the endpoint), so authenticating costs one store read for a request that
/// presents a credential and none for one that does not.
/// </summary>
internal sealed class TesseraAuthenticationHandler(
    IOptionsMonitor<TesseraAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    RequestSessionOpener sessions)
    : AuthenticationHandler<TesseraAuthenticationOptions>(options, logger, encoder)
{
    private const string StoreUnavailableReason = "session_store_unavailable";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (RequestSessionOpener.IsDisabled(Context))
        {
            return AuthenticateResult.NoResult();
        }
        var session = sessions.GetOrOpen(Context).Session;
        if (!session.HasPresentedCredential)
        {
            return AuthenticateResult.NoResult();
        }
        await session.LoadAsync(Context.RequestAborted).ConfigureAwait(false);
        if (session.IsStoreUnavailable)
        {
            // Never access while the store cannot say; the challenge answers 503 rather than send the client to sign in.
            return AuthenticateResult.Fail(StoreUnavailableReason);
        }
        if (session.CredentialKind == SessionCredentialKind.AccessToken && session.TokenFailure != TokenFailure.None)
        {
            return AuthenticateResult.Fail(session.TokenFailure.ToReason());
        }
        if (session.IsNew || session.Subject is not { } subject)
        {
            return AuthenticateResult.NoResult();
        }
        var authenticationType = session.CredentialKind == SessionCredentialKind.AccessToken
            ? TesseraAuthenticationDefaults.BearerAuthenticationType
            : TesseraAuthenticationDefaults.CookieAuthenticationType;
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, subject, ClaimValueTypes.String, ClaimsIssuer),
                new Claim(ClaimTypes.Name, subject, ClaimValueTypes.String, ClaimsIssuer),
                new Claim(TesseraAuthenticationDefaults.SessionIdClaimType, session.Id, ClaimValueTypes.String, ClaimsIssuer),
            ],
            authenticationType,
            ClaimTypes.Name,
            ClaimTypes.Role);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    /// <summary>
    /// 503 with <c>Retry-After</c> when the session could not be loaded because the store failed (the failure contract:
    /// no access, and no reason for the client to drop a credential that may be good). Otherwise 401. With bearer tokens enabled, or on a bearer request, <c>WWW-Authenticate</c> follows RFC 6750 §3.1: a bare
    /// <c>Bearer</c> when no token was presented, <c>Bearer error="invalid_token", error_description="&lt;reason&gt;"</c>
    /// when one was and it was rejected. The token itself never appears.
    /// </summary>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (!RequestSessionOpener.IsDisabled(Context) && sessions.GetOrOpen(Context).Session is { IsLoaded: true, IsStoreUnavailable: true })
        {
            // The credential may be perfectly good: a 401 would make the client drop it or sign in again.
            var manager = Context.RequestServices.GetRequiredService<SessionManager>();
            Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            Response.Headers[HeaderNames.RetryAfter] = TesseraProblem.RetryAfter(manager.Options);
            Response.Headers[HeaderNames.CacheControl] = "no-store";
            return;
        }
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        string? reason = null;
        var bearerRequest = false;
        if (!RequestSessionOpener.IsDisabled(Context))
        {
            var session = sessions.GetOrOpen(Context).Session;
            if (session.CredentialKind == SessionCredentialKind.AccessToken && session.HasPresentedCredential)
            {
                bearerRequest = true;
                await session.LoadAsync(Context.RequestAborted).ConfigureAwait(false);
                reason = session.TokenFailure != TokenFailure.None
                    ? session.TokenFailure.ToReason()
                    : session.IsNew ? TokenFailure.InvalidToken.ToReason() : TesseraAuthenticationDefaults.AnonymousSessionReason;
            }
        }
        if (bearerRequest || sessions.TokensEnabled)
        {
            Response.Headers.Append(HeaderNames.WWWAuthenticate, BearerChallenge.Header(reason));
        }
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        return Task.CompletedTask;
    }
}

/// <summary>RFC 6750 §3 challenge values.</summary>
internal static class BearerChallenge
{
    /// <summary>A bare <c>Bearer</c> without a reason; with one, <c>error="invalid_token"</c> and the reason as description.</summary>
    public static string Header(string? reason) => reason is null
        ? "Bearer"
        : $"Bearer error=\"invalid_token\", error_description=\"{reason}\"";
}
