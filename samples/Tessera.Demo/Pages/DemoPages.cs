using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Diagnostics;
using Tessera.AspNetCore;

namespace Tessera.Demo.Pages;

/// <summary>
/// The demo's server-rendered pages: <c>/account/sessions</c> ("your devices", for the signed-in user) and
/// <c>/admin/sessions</c> (for operators, who sign in at <see cref="OperatorSignIn.Path"/>). Plain HTML and plain
/// forms, so they work without JavaScript; every form that changes something carries an antiforgery token (the session
/// cookie is SameSite=Lax, which stops most cross-site posts, and Tessera's request-origin guard refuses the rest from
/// other origins; the token keeps the forms safe for an app that turns the guard off), and answers with a 303 back to
/// the page.
/// </summary>
internal static class DemoPages
{
    /// <summary>The operator page's path; mapped only with an operator password hash.</summary>
    public const string AdminPath = "/admin/sessions";

    private const string NoticeKey = "pages:notice";
    private const string AccountPath = "/account/sessions";

    /// <summary>
    /// Maps the pages. Without <paramref name="operatorPasswordHash"/> the operator page and its sign-in are not mapped
    /// at all: nobody can be an operator, and <c>/admin/...</c> answers 404 like any unknown path.
    /// </summary>
    public static void Map(WebApplication app, string? operatorPasswordHash)
    {
        MapAccount(app);
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
        var (title, body) = http.Response.StatusCode switch
        {
            StatusCodes.Status401Unauthorized => ("Not signed in",
                $"<h1>Not signed in</h1>\n<p>The operator page is for operators. <a href=\"{OperatorSignIn.Path}\">Sign in as operator</a> with the operator password.</p>\n"),
            StatusCodes.Status403Forbidden => ("Not an operator",
                $"<h1>Not an operator</h1>\n<p>You are signed in as <strong>{Html.Encode(http.User.Identity?.Name)}</strong>, which is a name, not operator rights: the home page's sign-in never grants them. "
                + $"<a href=\"{OperatorSignIn.Path}\">Sign in as operator</a> with the operator password, or manage <a href=\"{AccountPath}\">your own devices</a>.</p>\n"),
            _ => (null, null),
        };
        if (title is null)
        {
            return;
        }
        http.Response.ContentType = Html.ContentType;
        await http.Response.WriteAsync(Html.Page(title, body!), http.RequestAborted);
    }

    private static void MapAccount(WebApplication app)
    {
        app.MapGet(AccountPath, async (HttpContext context, HttpSession session, SessionManager manager, ISessionStore store, IAntiforgery antiforgery) =>
        {
            if (session.Subject is not { } user)
            {
                return Html.Result("Your devices",
                    "<h1>Your devices</h1>\n<p id=\"not-signed-in\">You are not signed in. <a href=\"/\">Sign in on the demo's home page</a> to see the devices signed in to your account.</p>\n");
            }
            if (store is not ISubjectSessionIndex)
            {
                return Html.Result("Your devices", Unsupported(store));
            }
            var sessions = await manager.Subjects.ListAsync(user, currentSessionId: session.Id, context.RequestAborted);
            var now = Now(context);
            var field = Html.AntiforgeryField(antiforgery.GetAndStoreTokens(context));
            var body = new StringBuilder();
            body.Append("<h1>Your devices</h1>\n")
                .Append("<p>Signed in as <strong>").Append(Html.Encode(user)).Append("</strong>. These are the browsers and apps signed in to your account; sign out any you do not recognise.</p>\n")
                .Append(Html.Notice(session.GetFlash<string>(NoticeKey)))
                .Append("<h2>Signed in (").Append(sessions.Count).Append(")</h2>\n<ul class=\"devices\">\n");
            // This device first, then the others oldest first, as the store lists them.
            foreach (var s in sessions.OrderByDescending(s => s.IsCurrent))
            {
                var device = UserAgentParser.Parse(s.UserAgent).ToString();
                body.Append("<li class=\"device").Append(s.IsCurrent ? " current" : "").Append("\">\n")
                    .Append("<h3>").Append(Html.Encode(device)).Append(s.IsCurrent ? " <span class=\"this-device\">This device</span>" : "").Append("</h3>\n")
                    .Append("<dl>\n<dt>IP address</dt><dd>").Append(Html.Encode(s.IpAddress ?? DeviceDescription.Unknown)).Append("</dd>\n")
                    .Append("<dt>Last active</dt><dd>").Append(Html.Time(s.LastSeenAt, now)).Append("</dd>\n")
                    .Append("<dt>Signed in</dt><dd>").Append(Html.Time(s.CreatedAt, now)).Append("</dd>\n</dl>\n")
                    .Append("<form method=\"post\" action=\"").Append(AccountPath).Append('/').Append(Uri.EscapeDataString(s.Id)).Append("/revoke\">")
                    .Append(field)
                    .Append("<button type=\"submit\" class=\"danger\">")
                    .Append(s.IsCurrent ? "Sign out here" : "Sign out")
                    .Append("<span class=\"visually-hidden\"> ").Append(Html.Encode(device)).Append(s.IsCurrent ? " (this device)" : $", last active {Html.Encode(Html.AtText(s.LastSeenAt))}").Append("</span>")
                    .Append("</button></form>\n</li>\n");
            }
            body.Append("</ul>\n");
            if (sessions.Count > 1)
            {
                body.Append("<form method=\"post\" action=\"").Append(AccountPath).Append("/revoke-others\">").Append(field)
                    .Append("<button type=\"submit\" class=\"danger\" id=\"revoke-others\">Sign out all other devices</button></form>\n");
            }
            return Html.Result("Your devices", body.ToString());
        });

        app.MapPost(AccountPath + "/{id}/revoke", async (string id, HttpContext context, HttpSession session, SessionManager manager, IAntiforgery antiforgery) =>
        {
            if (session.Subject is not { } user)
            {
                return Html.SeeOther(context, AccountPath);
            }
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Expired();
            }
            if (string.Equals(id, session.Id, StringComparison.Ordinal))
            {
                // Signing this device out: destroying (not just revoking) also clears its cookie.
                session.Destroy();
                return Html.SeeOther(context, AccountPath);
            }
            var result = await manager.Subjects.RevokeAsync(user, id, context.RequestAborted);
            // Not found and not owned read the same, so another user's session ids cannot be probed from here.
            session.SetFlash(NoticeKey, result == SubjectSessionRevocation.Revoked
                ? "That device is signed out."
                : "That device was already signed out.");
            return Html.SeeOther(context, AccountPath);
        });

        app.MapPost(AccountPath + "/revoke-others", async (HttpContext context, HttpSession session, SessionManager manager, IAntiforgery antiforgery) =>
        {
            if (session.Subject is not { } user)
            {
                return Html.SeeOther(context, AccountPath);
            }
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Expired();
            }
            var revoked = await manager.Subjects.RevokeOthersAsync(user, session.Id, context.RequestAborted);
            session.SetFlash(NoticeKey, revoked == 1 ? "Signed out 1 other device." : $"Signed out {revoked} other devices.");
            return Html.SeeOther(context, AccountPath);
        });
    }

    private static void MapAdmin(WebApplication app)
    {
        var admin = app.MapGroup(AdminPath).RequireAuthorization(OperatorSignIn.Policy);

        admin.MapGet("", async (string? user, HttpContext context, HttpSession session, SessionManager manager, ISessionStore store, IAntiforgery antiforgery) =>
        {
            user = DemoEndpoints.ValidUser(user);
            var now = Now(context);
            var body = new StringBuilder();
            body.Append("<h1>Sessions (operator)</h1>\n")
                .Append("<p>Signed in as operator <strong>").Append(Html.Encode(session.Subject)).Append("</strong>.</p>\n")
                .Append(Html.Notice(session.GetFlash<string>(NoticeKey)))
                .Append("<h2>Live counts</h2>\n")
                .Append(await CountsAsync(store, context.RequestAborted))
                .Append("<h2>Find a user's sessions</h2>\n")
                .Append("<form method=\"get\" action=\"").Append(AdminPath).Append("\" role=\"search\">")
                .Append("<label for=\"user\">User</label> <input id=\"user\" name=\"user\" maxlength=\"").Append(DemoEndpoints.MaxUserLength)
                .Append("\" required value=\"").Append(Html.Encode(user)).Append("\"> <button type=\"submit\">Search</button></form>\n");
            if (user is not null)
            {
                if (store is not ISubjectSessionIndex)
                {
                    body.Append(Unsupported(store));
                }
                else
                {
                    var sessions = await manager.Subjects.ListAsync(user, currentSessionId: session.Id, context.RequestAborted);
                    AppendUserSessions(body, user, sessions, now, Html.AntiforgeryField(antiforgery.GetAndStoreTokens(context)));
                }
            }
            return Html.Result("Sessions (operator)", body.ToString());
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
                return Html.SeeOther(context, back);
            }
            session.SetFlash(NoticeKey, result == SubjectSessionRevocation.Revoked
                ? "The session is revoked: its next request is signed out."
                : "No live session has that id (already revoked or expired).");
            return Html.SeeOther(context, back);
        });
    }

    private static void AppendUserSessions(StringBuilder body, string user, IReadOnlyList<SubjectSessionInfo> sessions, DateTimeOffset now, string field)
    {
        body.Append("<h2>Sessions of ").Append(Html.Encode(user)).Append(" (").Append(sessions.Count).Append(")</h2>\n");
        if (sessions.Count == 0)
        {
            body.Append("<p>No live sessions.</p>\n");
            return;
        }
        body.Append("<table>\n<thead><tr><th scope=\"col\">Device</th><th scope=\"col\">IP address</th><th scope=\"col\">Signed in</th>")
            .Append("<th scope=\"col\">Last active</th><th scope=\"col\">Expires</th><th scope=\"col\">Action</th></tr></thead>\n<tbody>\n");
        foreach (var s in sessions)
        {
            var device = UserAgentParser.Parse(s.UserAgent).ToString();
            body.Append("<tr class=\"session\"><td>").Append(Html.Encode(device)).Append(s.IsCurrent ? " <span class=\"this-device\">You, now</span>" : "")
                .Append("</td><td>").Append(Html.Encode(s.IpAddress ?? DeviceDescription.Unknown))
                .Append("</td><td>").Append(Html.Time(s.CreatedAt, now))
                .Append("</td><td>").Append(Html.Time(s.LastSeenAt, now))
                .Append("</td><td>").Append(Html.At(s.ExpiresAt))
                .Append("</td><td><form method=\"post\" action=\"").Append(AdminPath).Append('/').Append(Uri.EscapeDataString(s.Id)).Append("/revoke\">")
                .Append(field)
                .Append("<input type=\"hidden\" name=\"user\" value=\"").Append(Html.Encode(user)).Append("\">")
                .Append("<button type=\"submit\" class=\"danger\">Revoke<span class=\"visually-hidden\"> ").Append(Html.Encode(user)).Append("'s session on ")
                .Append(Html.Encode(device)).Append(", last active ").Append(Html.Encode(Html.AtText(s.LastSeenAt))).Append("</span></button></form></td></tr>\n");
        }
        body.Append("</tbody>\n</table>\n");
    }

    private static async Task<string> CountsAsync(ISessionStore store, CancellationToken cancellationToken)
    {
        if (store is ISessionStoreAdministration administration)
        {
            var stats = await administration.GetStatisticsAsync(cancellationToken);
            return $"<dl class=\"counts\">\n<dt>Live sessions</dt><dd id=\"live\">{stats.Live}</dd>\n<dt>Expired, awaiting clean-up</dt><dd>{stats.Expired}</dd>\n"
                + $"<dt>Revoked, awaiting clean-up</dt><dd>{stats.Revoked}</dd>\n<dt>Store size</dt><dd>{Html.Encode(stats.SizeDescription)}</dd>\n</dl>\n";
        }
        if (store is ISessionStoreCounter counter)
        {
            return $"<dl class=\"counts\">\n<dt>Live sessions</dt><dd id=\"live\">{await counter.CountAsync(cancellationToken)}</dd>\n</dl>\n";
        }
        return $"<p>The {Html.Encode(store.GetType().Name)} cannot count its sessions.</p>\n";
    }

    private static string Unsupported(ISessionStore store) =>
        $"<p>The session store ({Html.Encode(store.GetType().Name)}) cannot list a user's sessions, so there is nothing to show here with it.</p>\n";

    /// <summary>The answer to a form post whose antiforgery token is missing or stale: 400, and a link back to <paramref name="back"/>.</summary>
    public static IResult Expired(string back = AccountPath) => Html.Result("Form expired",
        "<h1>Form expired</h1>\n<p>That form was out of date or did not come from this site, so nothing was changed. <a href=\"" + back + "\">Go back</a> and try again.</p>\n",
        StatusCodes.Status400BadRequest);

    private static DateTimeOffset Now(HttpContext context) =>
        (context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow();
}
