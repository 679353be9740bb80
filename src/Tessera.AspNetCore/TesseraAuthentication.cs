using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Tessera.AspNetCore.Identity;
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
/// Authenticates a request from its Tessera session (cookie or bearer token), and signs in and out through it.
/// </summary>
/// <remarks>
/// A live session with a subject gives a principal: the one signed in with <c>SignInAsync</c> (every claim and
/// identity as it was given, kept in the session under <c>tessera:principal</c>) or, for a session signed in with
/// <see cref="TesseraSession.SignIn(string)"/>, one whose <see cref="ClaimTypes.NameIdentifier"/> and
/// <see cref="ClaimTypes.Name"/> are the subject; either way with a <c>sid</c> claim, the session id. No session, or a
/// session without a subject, is not authenticated. The session is the request's own (loaded once, shared with the
/// endpoint), so authenticating costs one store read for a request that presents a credential and none for one that
/// does not; the principal is in the session's record, so it costs no further read.
/// </remarks>
internal sealed class TesseraAuthenticationHandler(
    IOptionsMonitor<TesseraAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    RequestSessionOpener sessions)
    : SignInAuthenticationHandler<TesseraAuthenticationOptions>(options, logger, encoder)
{
    private const string StoreUnavailableReason = "session_store_unavailable";
    private const string UserStoreUnavailableReason = "user_store_unavailable";
    private const string PrincipalRejectedReason = "principal_rejected";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // A session the middleware opened means sessions are on for the endpoint: the endpoint's metadata is read only
        // when nobody opened one yet.
        var opened = RequestSessionOpener.Opened(Context);
        if (opened is null && RequestSessionOpener.IsDisabled(Context))
        {
            return AuthenticateResult.NoResult();
        }
        var session = (opened ?? sessions.GetOrOpen(Context)).Session;
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
        if (session.TryGetPrincipalJson(out var json) && SessionPrincipal.Read(json, session.Id, ClaimsIssuer) is var (principal, properties))
        {
            if (sessions.StampCheck(Context.RequestServices) is { } stamps)
            {
                switch (await stamps.CheckAsync(Context, sessions.GetOrOpen(Context), principal, properties.IssuedUtc).ConfigureAwait(false))
                {
                    case StampCheckResult.Rejected:
                        return AuthenticateResult.Fail(PrincipalRejectedReason);
                    case StampCheckResult.Unavailable:
                        return AuthenticateResult.Fail(UserStoreUnavailableReason);
                    default:
                        break;
                }
            }
            return AuthenticateResult.Success(new AuthenticationTicket(principal, WithTokenExpiry(properties, session), Scheme.Name));
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
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), WithTokenExpiry(new AuthenticationProperties(), session), Scheme.Name));
    }

    // A bearer sign-in lasts as long as its access token: SignalR's CloseOnAuthenticationExpiration closes a connection
    // opened with the token at this time, and the client reconnects with a fresh one.
    private static AuthenticationProperties WithTokenExpiry(AuthenticationProperties properties, TesseraSession session)
    {
        if (session.AccessTokenExpiresAt is { } expires && (properties.ExpiresUtc is not { } signInEnds || expires < signInEnds))
        {
            properties.ExpiresUtc = expires;
        }
        return properties;
    }

    /// <summary>
    /// Signs <paramref name="user"/> in to the request's session: <see cref="TesseraSession.SignIn(string)"/> with its
    /// subject (a new credential, anonymous data kept), and the principal and the properties' items kept in the session.
    /// <see cref="AuthenticationProperties.ExpiresUtc"/> can only end the sign-in sooner than the session's absolute
    /// deadline; <see cref="AuthenticationProperties.IsPersistent"/> makes the cookie outlive the browser session.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The principal has no subject (no <see cref="ClaimTypes.NameIdentifier"/> or <c>sub</c> claim and no name, see
    /// <see cref="SessionPrincipal.SubjectOf"/>), sessions are disabled for the
    /// endpoint, or the request is a bearer request (token sessions are created with
    /// <see cref="TesseraPrincipalTokenExtensions.CreateAsync"/>).
    /// </exception>
    /// <exception cref="ArgumentException"><see cref="AuthenticationProperties.ExpiresUtc"/> is not in the future, or the subject is longer than 256 characters.</exception>
    /// <exception cref="SessionDataTooLargeException">The principal does not fit in <see cref="TesseraOptions.MaxDataBytes"/>; nothing changed.</exception>
    protected override async Task HandleSignInAsync(ClaimsPrincipal user, AuthenticationProperties? properties)
    {
        ArgumentNullException.ThrowIfNull(user);
        var subject = SessionPrincipal.RequireSubject(user, "Signing in to Tessera");
        var session = await OpenWritableAsync("sign in").ConfigureAwait(false);
        if (session.CredentialKind == SessionCredentialKind.AccessToken)
        {
            throw new InvalidOperationException("A bearer request cannot sign in to its token session: create the token session with SessionTokenService.CreateAsync(principal) instead.");
        }
        var manager = Context.RequestServices.GetRequiredService<SessionManager>();
        var now = manager.Clock.Now();
        properties = properties is null ? new AuthenticationProperties() : properties.Clone();
        properties.IssuedUtc = now;
        DateTimeOffset? endsAt = null;
        if (properties.ExpiresUtc is { } expires)
        {
            if (expires <= now)
            {
                throw new ArgumentException("AuthenticationProperties.ExpiresUtc is not in the future: the sign-in would be over before it began.", nameof(properties));
            }
            // Only ever sooner: the session's absolute deadline (from now, or the one it has) caps the sign-in.
            var absolute = session.IsNew ? now + manager.Options.AbsoluteLifetime : session.AbsoluteExpiresAt!.Value;
            endsAt = expires < absolute ? TruncateToMilliseconds(expires) : null;
            properties.ExpiresUtc = endsAt ?? absolute;
        }
        session.SignInWithPrincipal(subject, SessionPrincipal.Write(user, properties.Items, ClaimsIssuer), endsAt);
    }

    /// <summary>
    /// Signs out: destroys the request's session (<see cref="TesseraSession.SignOut"/>): revoked server-side, the cookie
    /// cleared. A bearer request whose token found no session has nothing to sign out.
    /// </summary>
    protected override async Task HandleSignOutAsync(AuthenticationProperties? properties)
    {
        var session = await OpenWritableAsync("sign out").ConfigureAwait(false);
        if (session.CredentialKind == SessionCredentialKind.AccessToken && session.IsNew)
        {
            return;
        }
        session.SignOut();
    }

    private async Task<HttpSession> OpenWritableAsync(string what)
    {
        if (RequestSessionOpener.IsDisabled(Context))
        {
            throw new InvalidOperationException($"Cannot {what} with Tessera: sessions are disabled for this endpoint (DisableSession()).");
        }
        var session = sessions.GetOrOpen(Context).Session;
        await session.LoadAsync(Context.RequestAborted).ConfigureAwait(false);
        return session;
    }

    private static DateTimeOffset TruncateToMilliseconds(DateTimeOffset time) =>
        DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());

    /// <summary>
    /// 503 with <c>Retry-After</c> when the session could not be loaded because the store failed, or when the user store
    /// failed while <c>AddTesseraIdentity</c> checked the security stamp (the failure contract: no access, and no reason
    /// for the client to drop a credential that may be good). Otherwise 401. With bearer tokens enabled, or on a bearer request, <c>WWW-Authenticate</c> follows RFC 6750 §3.1: a bare
    /// <c>Bearer</c> when no token was presented, <c>Bearer error="invalid_token", error_description="&lt;reason&gt;"</c>
    /// when one was and it was rejected. The token itself never appears.
    /// </summary>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (!RequestSessionOpener.IsDisabled(Context) && sessions.GetOrOpen(Context) is { Session: { IsLoaded: true, IsStoreUnavailable: true } } or { PrincipalCheckFailed: true })
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
