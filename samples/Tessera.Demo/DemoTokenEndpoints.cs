using Tessera.AspNetCore;
using Tessera.Tokens;

namespace Tessera.Demo;

/// <summary>
/// The token-session routes of DESIGN.md (<c>/api/...</c>): the same sessions and the same cart as the cookie routes,
/// for clients that carry <c>Authorization: Bearer</c> instead of a cookie.
/// </summary>
internal static class DemoTokenEndpoints
{
    public static void Map(WebApplication app)
    {
        // Single-page apps on the origins of Demo:CorsOrigins may call every route here (DemoCors).
        var api = app.MapGroup("/api").RequireCors(DemoCors.TokenApi);

        // Sign-in is the application's: only it knows how a user proves who they are (the demo takes the name on trust).
        // It opens no cookie session, so it is marked DisableSession(): a browser's cookie sent along is not even read.
        api.MapPost("/login", async (HttpRequest request, SessionManager manager) =>
        {
            var (body, problem) = await DemoEndpoints.ReadBodyAsync<DemoEndpoints.LoginRequest>(request);
            if (problem is not null)
            {
                return problem;
            }
            if (!DemoEndpoints.TryPasswordlessUser(body!.User, out var user, out var refused))
            {
                return refused;
            }
            // CaptureSessionMetadata applies Tessera:Metadata (User-Agent on or off, IP full, truncated or off), so token
            // sessions record exactly what cookie sessions record.
            if (manager.Store is not ISessionTokenStore)
            {
                return Results.Problem(statusCode: StatusCodes.Status501NotImplemented, title: "This store does not support token sessions yet.");
            }
            // The same principal as a cookie sign-in: bearer requests authenticate with its customer role.
            var pair = await manager.Tokens.CreateAsync(DemoPrincipals.Customer(user), metadata: request.HttpContext.CaptureSessionMetadata(), cancellationToken: request.HttpContext.RequestAborted);
            return TesseraTokenResults.Tokens(pair);
        }).DisableSession().RequireRateLimiting(DemoRateLimits.SessionCreation);

        // The handler's principal comes from the token's session; a missing or rejected token never reaches the lambda:
        // the authentication handler answers 401 with WWW-Authenticate: Bearer error="invalid_token".
        api.MapGet("/me", (HttpContext context) => Results.Ok(new { user = context.User.Identity!.Name, roles = DemoPrincipals.Roles(context.User) }))
            .RequireAuthorization();

        // The same typed key and the same HttpSession as /cart: only the credential differs.
        api.MapGet("/cart", (HttpSession session) => DemoEndpoints.ReadCart(session)).RequireAuthorization();
        api.MapPost("/cart", (HttpRequest request, HttpSession session) => DemoEndpoints.AddToCartAsync(request, session)).RequireAuthorization();

        // POST /api/refresh and POST /api/logout.
        app.MapTesseraTokenEndpoints("/api").RequireCors(DemoCors.TokenApi);
    }
}
