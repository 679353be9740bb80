using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Tessera.AspNetCore;

namespace Tessera.Demo.Pages;

/// <summary>
/// How a visitor becomes an operator: the password-less <c>POST /login</c> never does; the operator sign-in form at
/// <c>/admin/sign-in</c> does, given the password whose hash is <c>Demo:OperatorPasswordHash</c>. It is rate limited
/// per client address (<see cref="DemoRateLimits.OperatorSignIn"/>), and signs in through <c>SignInAsync</c> (a new
/// credential) a principal with the <see cref="DemoPrincipals.OperatorRole"/>, which is what <see cref="Policy"/>
/// requires. Without the setting none of these routes exist, so every <c>/admin/...</c> operator route answers 404.
/// </summary>
internal static class OperatorSignIn
{
    /// <summary>The authorization policy of the operator page: the operator role, which only the operator sign-in grants.</summary>
    public const string Policy = "TesseraOperator";

    /// <summary>
    /// The subject an operator session signs in as. Password-less sign-in refuses it, so nobody can list or sign out
    /// the operator's devices on <c>/account/sessions</c> by taking the name.
    /// </summary>
    public const string Subject = "operator";

    /// <summary>The operator sign-in form's path (GET shows it, POST checks it); mapped only with an operator password hash.</summary>
    public const string Path = "/admin/sign-in";

    /// <summary>Whether <paramref name="user"/> is the operator's subject (in any case), which password-less sign-in refuses.</summary>
    public static bool IsReserved(string user) => string.Equals(user, Subject, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The policy: a signed-in principal with the <see cref="DemoPrincipals.OperatorRole"/>. A user name alone is no
    /// authorization, and signing in as anyone else replaces the principal (and the role with it).
    /// </summary>
    public static void Require(AuthorizationPolicyBuilder policy) => policy
        .RequireAuthenticatedUser()
        .RequireRole(DemoPrincipals.OperatorRole);

    /// <summary>Maps the sign-in form; only called when an operator password hash is configured.</summary>
    public static void Map(WebApplication app, string passwordHash)
    {
        app.MapGet(Path, () => Form(refused: false));

        app.MapPost(Path, async (HttpContext context, IAntiforgery antiforgery, ILoggerFactory loggers) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return DemoPages.Expired(back: Path);
            }
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            var logger = loggers.CreateLogger(typeof(OperatorSignIn));
            var client = DemoRateLimits.ClientPartition(context);
            if (!OperatorPassword.Verify(passwordHash, form["password"].ToString()))
            {
                DemoLog.OperatorSignInRefused(logger, client);
                return Form(refused: true);
            }
            // Signing in regenerates the credential, so a cookie planted or seen before this moment is worthless afterwards.
            await context.SignInAsync(TesseraAuthenticationDefaults.AuthenticationScheme, DemoPrincipals.Operator(Subject));
            DemoLog.OperatorSignedIn(logger, client);
            return DemoPages.SeeOther(context, DemoPages.AdminPath);
        }).RequireRateLimiting(DemoRateLimits.OperatorSignIn);
    }

    /// <summary>The form (<see cref="OperatorSignInPage"/>); after a wrong password, with the same words for every one.</summary>
    private static RazorComponentResult<OperatorSignInPage> Form(bool refused) =>
        // 403: the credentials were understood and are not enough (a 401 would need a WWW-Authenticate scheme).
        new(new { Refused = refused }) { StatusCode = refused ? StatusCodes.Status403Forbidden : StatusCodes.Status200OK };
}
