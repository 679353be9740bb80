using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tessera.AspNetCore.Identity;

/// <summary>What <see cref="SecurityStampCheck.CheckAsync"/> decided for a request's principal.</summary>
internal enum StampCheckResult
{
    /// <summary>The principal stands: checked now and current, not due yet, or not an Identity principal.</summary>
    Valid,

    /// <summary>The stamp changed or the user is gone: the session was revoked and destroyed; the request is not authenticated.</summary>
    Rejected,

    /// <summary>The user store failed: no access, the session and the client's credential left alone (503).</summary>
    Unavailable,
}

/// <summary>Asks the application's user store whether a principal's security stamp is still the user's.</summary>
internal interface ISecurityStampVerifier
{
    /// <summary>Whether the principal carries a security stamp claim at all (it was made by Identity's claims factory).</summary>
    bool CarriesStamp(ClaimsPrincipal principal);

    /// <summary>Whether the principal's user exists and its stamp is the stored one; throws when the store fails.</summary>
    Task<bool> IsCurrentAsync(HttpContext context, ClaimsPrincipal principal);
}

/// <summary>
/// <see cref="ISecurityStampVerifier"/> over ASP.NET Core Identity: <see cref="SignInManager{TUser}.ValidateSecurityStampAsync(ClaimsPrincipal)"/>,
/// the call Identity's own <c>SecurityStampValidator</c> makes, so an application's override of it applies here too.
/// </summary>
internal sealed class IdentitySecurityStampVerifier<TUser>(IOptions<IdentityOptions> identity) : ISecurityStampVerifier
    where TUser : class
{
    public bool CarriesStamp(ClaimsPrincipal principal) =>
        principal.FindFirst(identity.Value.ClaimsIdentity.SecurityStampClaimType) is not null;

    public async Task<bool> IsCurrentAsync(HttpContext context, ClaimsPrincipal principal)
    {
        var signIn = context.RequestServices.GetService<SignInManager<TUser>>()
            ?? throw new InvalidOperationException($"AddTesseraIdentity<{typeof(TUser).Name}>() needs Identity's SignInManager<{typeof(TUser).Name}>: call AddIdentity, AddDefaultIdentity, or AddIdentityCore(...).AddSignInManager().");
        return await signIn.ValidateSecurityStampAsync(principal).ConfigureAwait(false) is not null;
    }
}

/// <summary>
/// Re-checks the security stamp a signed-in session keeps (its principal's stamp claim) against the user store, at most
/// once per <see cref="TesseraOptions.TouchInterval"/> per session, for Tessera's authentication handler and for
/// cookie authentication's tickets kept in Tessera alike. A stamp that changed, or a user that is gone, ends the session
/// in the store (every credential of it, on every instance) and leaves the request unauthenticated.
/// </summary>
/// <remarks>
/// The time of the last check is a reserved session value (<c>tessera:stamp-checked</c>, Unix milliseconds) written
/// with the check, so a session checked now is not checked again within the interval on any instance. That write carries
/// the session's touch (its last-seen time and idle deadline), so a session read at a steady pace costs the one write per
/// interval it already cost. A session signed in (or refreshed) less than an interval ago is not checked: the sign-in
/// read the stamp from the store.
/// </remarks>
internal sealed partial class SecurityStampCheck(SessionManager manager, ISecurityStampVerifier verifier, ILogger<SecurityStampCheck> logger)
{
    /// <summary>The reserved name (after <c>tessera:</c>) of the time of the session's last stamp check.</summary>
    public const string CheckedName = "stamp-checked";

    /// <summary>
    /// Checks <paramref name="principal"/>, the principal the request's session keeps, when a check is due.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="feature">The request's session feature.</param>
    /// <param name="principal">The principal kept in the session.</param>
    /// <param name="signedInAt">When the principal was signed in (its <c>IssuedUtc</c>), if known.</param>
    /// <returns>The decision.</returns>
    public async ValueTask<StampCheckResult> CheckAsync(HttpContext context, TesseraSessionFeature feature, ClaimsPrincipal principal, DateTimeOffset? signedInAt)
    {
        var session = feature.Session;
        if (feature.PrincipalRefreshed || session.IsNew || !verifier.CarriesStamp(principal))
        {
            return StampCheckResult.Valid;
        }
        var now = manager.Clock.Now();
        if (now - LastCheck(session, signedInAt) < manager.Options.TouchInterval)
        {
            return StampCheckResult.Valid;
        }
        bool current;
        try
        {
            current = await verifier.IsCurrentAsync(context, principal).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            // The failure contract: never access while the store cannot say, and never sign everyone out because it
            // cannot. The session stays as it was, unchecked, and the next request asks again.
            Log.UserStoreFailed(logger, Tessera.Log.Ref(session.Id), Tessera.Log.ErrorType(e));
            feature.PrincipalCheckFailed = true;
            return StampCheckResult.Unavailable;
        }
        if (!current)
        {
            Log.StampRejected(logger, Tessera.Log.Ref(session.Id));
            await manager.RevokeAsync(session.Id, SessionRevocationReason.PrincipalRejected, context.RequestAborted).ConfigureAwait(false);
            if (!session.IsCommitted)
            {
                // Revoked already; destroying the view clears the client's cookie and makes the request anonymous.
                session.Destroy();
            }
            return StampCheckResult.Rejected;
        }
        if (!session.IsCommitted)
        {
            session.SetReservedJson(CheckedName, now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        }
        return StampCheckResult.Valid;
    }

    // The latest of: the last check, the sign-in, the session's creation (a token session's principal has no issue time).
    private static DateTimeOffset LastCheck(HttpSession session, DateTimeOffset? signedInAt)
    {
        var last = session.CreatedAt ?? DateTimeOffset.MinValue;
        if (signedInAt > last)
        {
            last = signedInAt.Value;
        }
        if (session.TryGetReservedJson(CheckedName, out var json)
            && long.TryParse(json, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            && DateTimeOffset.FromUnixTimeMilliseconds(ms) is var checkedAt
            && checkedAt > last)
        {
            last = checkedAt;
        }
        return last;
    }

    private static partial class Log
    {
        [LoggerMessage(2801, LogLevel.Information, "The security stamp of session {SessionRef} no longer matches its user's (changed, or the user was deleted): the session was revoked.")]
        public static partial void StampRejected(ILogger logger, string sessionRef);

        [LoggerMessage(2802, LogLevel.Warning, "The user store failed ({ErrorType}) while the security stamp of session {SessionRef} was checked: the request is answered 503 and the session kept; the next request checks again.")]
        public static partial void UserStoreFailed(ILogger logger, string sessionRef, string errorType);
    }
}
