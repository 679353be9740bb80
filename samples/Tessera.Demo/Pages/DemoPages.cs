using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Tessera.AspNetCore;

namespace Tessera.Demo.Pages;

/// <summary>
/// The routes of the demo's server-rendered pages: <c>/account/sessions</c> ("your devices", for the signed-in user) and
/// <c>/admin/sessions</c> (for operators, who sign in at <see cref="OperatorSignIn.Path"/>). Each GET renders a Razor
/// component of this folder (<see cref="AccountSessionsPage"/>, <see cref="AdminSessionsPage"/>) with what the handler
/// read from the session and the store; Razor encodes every value, and user names, user agents and IP addresses are all
/// attacker-chosen text. Plain HTML and plain forms, so they work without JavaScript; every form that changes something
/// carries an antiforgery token (Razor's <c>&lt;AntiforgeryToken /&gt;</c>; the session cookie is SameSite=Lax, which
/// stops most cross-site posts, and Tessera's request-origin guard refuses the rest from other origins; the token keeps
/// the forms safe for an app that turns the guard off), and answers with a 303 back to the page.
/// </summary>
internal static class DemoPages
{
    /// <summary>The operator page's path; mapped only with an operator password hash.</summary>
    public const string AdminPath = "/admin/sessions";

    /// <summary>"Your devices", for the signed-in user.</summary>
    public const string AccountPath = "/account/sessions";

    /// <summary>The live page: the signed-in user over the session hub.</summary>
    public const string LivePath = "/live";

    private const string NoticeKey = "pages:notice";

    /// <summary>
    /// Maps the pages. Without <paramref name="operatorPasswordHash"/> the operator page and its sign-in are not mapped
    /// at all: nobody can be an operator, and <c>/admin/...</c> answers 404 like any unknown path.
    /// </summary>
    public static void Map(WebApplication app, string? operatorPasswordHash)
    {
        MapAccount(app);
        app.MapGet(LivePath, (HttpSession session) => new RazorComponentResult<LiveSessionPage>(new { User = session.Subject }));
        if (operatorPasswordHash is not null)
        {
            OperatorSignIn.Map(app, operatorPasswordHash);
            MapAdmin(app);
        }
    }

    /// <summary>
    /// Gives the operator page's bare 401 and 403 (the authorization policy's challenge and forbid) a body a person can
    /// read. Other routes keep their own answers.
    /// </summary>
    public static async Task WriteStatusPageAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        if (!http.Request.Path.StartsWithSegments(AdminPath))
        {
            return;
        }
        IResult? page = http.Response.StatusCode switch
        {
            StatusCodes.Status401Unauthorized => new RazorComponentResult<NotSignedInPage>(),
            StatusCodes.Status403Forbidden => new RazorComponentResult<NotOperatorPage>(new { User = http.User.Identity?.Name }),
            _ => null,
        };
        if (page is not null)
        {
            await page.ExecuteAsync(http);
        }
    }

    private static void MapAccount(WebApplication app)
    {
        app.MapGet(AccountPath, async (HttpContext context, HttpSession session, SessionManager manager, ISessionStore store) =>
        {
            if (session.Subject is not { } user)
            {
                return new RazorComponentResult<AccountSessionsPage>();
            }
            IReadOnlyList<SubjectSessionInfo>? sessions = store is ISubjectSessionIndex
                ? await manager.Subjects.ListAsync(user, currentSessionId: session.Id, context.RequestAborted)
                : null;
            return new RazorComponentResult<AccountSessionsPage>(new
            {
                User = user,
                Sessions = sessions,
                Store = store,
                Notice = session.GetFlash<string>(NoticeKey),
                Now = Now(context),
            });
        });

        app.MapPost(AccountPath + "/{id}/revoke", async (string id, HttpContext context, HttpSession session, SessionManager manager, IAntiforgery antiforgery) =>
        {
            if (session.Subject is not { } user)
            {
                return SeeOther(context, AccountPath);
            }
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Expired();
            }
            if (string.Equals(id, session.Id, StringComparison.Ordinal))
            {
                // Signing this device out: destroying (not just revoking) also clears its cookie.
                session.Destroy();
                return SeeOther(context, AccountPath);
            }
            var result = await manager.Subjects.RevokeAsync(user, id, context.RequestAborted);
            // Not found and not owned read the same, so another user's session ids cannot be probed from here.
            session.SetFlash(NoticeKey, result == SubjectSessionRevocation.Revoked
                ? "That device is signed out."
                : "That device was already signed out.");
            return SeeOther(context, AccountPath);
        });

        app.MapPost(AccountPath + "/revoke-others", async (HttpContext context, HttpSession session, SessionManager manager, IAntiforgery antiforgery) =>
        {
            if (session.Subject is not { } user)
            {
                return SeeOther(context, AccountPath);
            }
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Expired();
            }
            var revoked = await manager.Subjects.RevokeOthersAsync(user, session.Id, context.RequestAborted);
            session.SetFlash(NoticeKey, revoked == 1 ? "Signed out 1 other device." : $"Signed out {revoked} other devices.");
            return SeeOther(context, AccountPath);
        });
    }

    private static void MapAdmin(WebApplication app)
    {
        var admin = app.MapGroup(AdminPath).RequireAuthorization(OperatorSignIn.Policy);

        admin.MapGet("", async (string? user, HttpContext context, HttpSession session, SessionManager manager, ISessionStore store) =>
        {
            user = DemoEndpoints.ValidUser(user);
            var cancellationToken = context.RequestAborted;
            IReadOnlyList<SubjectSessionInfo>? sessions = user is not null && store is ISubjectSessionIndex
                ? await manager.Subjects.ListAsync(user, currentSessionId: session.Id, cancellationToken)
                : null;
            return new RazorComponentResult<AdminSessionsPage>(new
            {
                Operator = session.Subject,
                Notice = session.GetFlash<string>(NoticeKey),
                Statistics = store is ISessionStoreAdministration administration ? await administration.GetStatisticsAsync(cancellationToken) : null,
                Live = store is not ISessionStoreAdministration && store is ISessionStoreCounter counter ? await counter.CountAsync(cancellationToken) : (long?)null,
                Store = store,
                User = user,
                Sessions = sessions,
                Now = Now(context),
            });
        });

        admin.MapPost("/{id}/revoke", async (string id, HttpContext context, HttpSession session, SessionManager manager, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Expired();
            }
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            var user = DemoEndpoints.ValidUser(form["user"]);
            var result = await manager.Subjects.RevokeAsOperatorAsync(id, context.RequestAborted);
            var back = user is null ? AdminPath : $"{AdminPath}?user={Uri.EscapeDataString(user)}";
            if (string.Equals(id, session.Id, StringComparison.Ordinal))
            {
                // The operator revoked their own session: the cookie is now worthless, so clear it too.
                session.Destroy();
                return SeeOther(context, back);
            }
            session.SetFlash(NoticeKey, result == SubjectSessionRevocation.Revoked
                ? "The session is revoked: its next request is signed out."
                : "No live session has that id (already revoked or expired).");
            return SeeOther(context, back);
        });
    }

    /// <summary>The answer to a form post whose antiforgery token is missing or stale: 400, and a link back to <paramref name="back"/>.</summary>
    public static IResult Expired(string back = AccountPath) =>
        new RazorComponentResult<FormExpiredPage>(new { Back = back }) { StatusCode = StatusCodes.Status400BadRequest };

    /// <summary>A 303 See Other: after a form POST the browser GETs <paramref name="location"/>, so reloading does not post again.</summary>
    public static IResult SeeOther(HttpContext context, string location)
    {
        context.Response.Headers.Location = location;
        return Results.StatusCode(StatusCodes.Status303SeeOther);
    }

    private static DateTimeOffset Now(HttpContext context) =>
        (context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow();
}
