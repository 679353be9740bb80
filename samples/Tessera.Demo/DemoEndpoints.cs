using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;
using Tessera.AspNetCore;

namespace Tessera.Demo;

/// <summary>The cookie-session routes of DESIGN.md's "demo app's HTTP contract". Every body in and out is JSON.</summary>
internal static class DemoEndpoints
{
    public const int MaxUserLength = 64;
    public const int MaxItemLength = 100;
    public const int MaxCartItems = 100;
    public const int MaxMessageLength = 500;
    public const int MaxFlashMessages = 20;
    public const int MaxCounterNameLength = 64;
    // Room for the multi-instance test's 100 concurrent counters in one session, while still bounding its size.
    public const int MaxCounters = 200;
    private const int MaxBodyBytes = 16 * 1024;
    private const string CounterPrefix = "counter:";
    private const string FlashKey = "messages";

    // A typed key: the cart is read back as the List<string> it was written as, wherever it is used.
    private static readonly SessionKey<List<string>> Cart = new("cart");

    private static readonly JsonSerializerOptions BodyJson = new(JsonSerializerDefaults.Web);

    public static void Map(WebApplication app)
    {
        app.MapPost("/login", async (HttpRequest request, HttpSession session) =>
        {
            var (body, problem) = await ReadBodyAsync<LoginRequest>(request);
            if (problem is not null)
            {
                return problem;
            }
            if (!TryPasswordlessUser(body!.User, out var user, out var refused))
            {
                return refused;
            }
            // Regenerates the credential (the pre-login cookie dies), keeps anonymous data such as the cart, and keeps the
            // principal's claims (its customer role) in the session for [Authorize] and /me.
            await request.HttpContext.SignInAsync(TesseraAuthenticationDefaults.AuthenticationScheme, DemoPrincipals.Customer(user));
            return Results.Ok(new { user, sessionId = session.Id });
        }).RequireRateLimiting(DemoRateLimits.SessionCreation);

        app.MapGet("/me", (HttpContext context, HttpSession session) =>
        {
            // During a store outage, "not signed in" would be a lie that sends the user to the login page: say 503.
            session.ThrowIfStoreUnavailable();
            // The roles come from the principal authentication read from the same session record: no further store read.
            return session.Subject is { } user
                ? Results.Ok(new { user, roles = DemoPrincipals.Roles(context.User) })
                : Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Not signed in.");
        });

        app.MapGet("/cart", (HttpSession session) => ReadCart(session));

        app.MapPost("/cart", (HttpRequest request, HttpSession session) => AddToCartAsync(request, session)).RequireRateLimiting(DemoRateLimits.SessionCreation);

        app.MapPost("/flash", async (HttpRequest request, HttpSession session) =>
        {
            var (body, problem) = await ReadBodyAsync<FlashRequest>(request);
            if (problem is not null)
            {
                return problem;
            }
            var message = body!.Message?.Trim();
            if (string.IsNullOrEmpty(message) || message.Length > MaxMessageLength)
            {
                return BadRequest($"\"message\" must be 1 to {MaxMessageLength} characters.");
            }
            // One flash key holds a list: peeking (not reading) keeps unread messages, and this one is appended.
            var messages = session.PeekFlash<List<string>>(FlashKey) ?? [];
            if (messages.Count >= MaxFlashMessages)
            {
                return BadRequest($"At most {MaxFlashMessages} flash messages can wait at once.");
            }
            messages.Add(message);
            session.SetFlash(FlashKey, messages);
            return Results.Ok(new { messages });
        }).RequireRateLimiting(DemoRateLimits.SessionCreation);

        app.MapGet("/flash", (HttpSession session) => Results.Ok(new { messages = session.GetFlash<List<string>>(FlashKey) ?? [] }));

        app.MapPost("/counter/{name}", (string name, HttpSession session) =>
        {
            if (name.Length > MaxCounterNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return BadRequest($"A counter name is 1 to {MaxCounterNameLength} letters, digits, '-', '_' or '.'.");
            }
            var key = CounterPrefix + name;
            if (!session.ContainsKey(key) && session.Keys.Count(k => k.StartsWith(CounterPrefix, StringComparison.Ordinal)) >= MaxCounters)
            {
                return BadRequest($"A session holds at most {MaxCounters} counters.");
            }
            var value = session.Get<long>(key) + 1;
            session.Set(key, value);
            return Results.Ok(new { name, value });
        }).RequireRateLimiting(DemoRateLimits.SessionCreation);

        app.MapGet("/counters", (HttpSession session) =>
        {
            var counters = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var key in session.Keys)
            {
                if (key.StartsWith(CounterPrefix, StringComparison.Ordinal))
                {
                    counters[key[CounterPrefix.Length..]] = session.Get<long>(key);
                }
            }
            return Results.Ok(counters);
        });

        app.MapPost("/logout", (HttpSession session) =>
        {
            // Revokes the session server-side and clears the cookie: a copy of the old cookie is worthless afterwards.
            session.Destroy();
            return Results.NoContent();
        });

        MapSessionRoutes(app);

        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" })).DisableSession();

        app.MapGet("/admin/stats", async (HttpContext context, ISessionStore store, IWebHostEnvironment environment) =>
        {
            // Not even admitting the route exists elsewhere: it is a development aid, not an API.
            if (!environment.IsDevelopment() || !DemoApp.IsLoopback(context.Connection.RemoteIpAddress))
            {
                return Results.NotFound();
            }
            long? sessions = store is ISessionStoreCounter counter ? await counter.CountAsync(context.RequestAborted) : null;
            return Results.Ok(new { sessions, store = store.GetType().Name });
        }).DisableSession();
    }

    /// <summary>
    /// "Your devices": the signed-in user's sessions, revoking one, revoking all but the current one. Another user's
    /// session id is answered exactly like an id that does not exist (404), so ids cannot be probed.
    /// </summary>
    private static void MapSessionRoutes(WebApplication app)
    {
        app.MapGet("/sessions", async (HttpSession session, SessionManager manager, CancellationToken cancellationToken) =>
        {
            if (session.Subject is not { } user)
            {
                return NotSignedIn();
            }
            var sessions = await manager.Subjects.ListAsync(user, currentSessionId: session.Id, cancellationToken);
            return Results.Ok(sessions.Select(s => new SessionView(s.Id, s.IsCurrent, s.CreatedAt, s.LastSeenAt, s.UserAgent, s.IpAddress)));
        });

        app.MapDelete("/sessions/{id}", async (string id, HttpSession session, SessionManager manager, CancellationToken cancellationToken) =>
        {
            if (session.Subject is not { } user)
            {
                return NotSignedIn();
            }
            if (string.Equals(id, session.Id, StringComparison.Ordinal))
            {
                // Signing this device out: destroying (not just revoking) also clears its cookie.
                session.Destroy();
                return Results.NoContent();
            }
            return await manager.Subjects.RevokeAsync(user, id, cancellationToken) == SubjectSessionRevocation.Revoked
                ? Results.NoContent()
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such session.");
        });

        app.MapPost("/sessions/revoke-others", async (HttpSession session, SessionManager manager, CancellationToken cancellationToken) =>
        {
            if (session.Subject is not { } user)
            {
                return NotSignedIn();
            }
            var revoked = await manager.Subjects.RevokeOthersAsync(user, session.Id, cancellationToken);
            return Results.Ok(new { revoked });
        });
    }

    private static IResult NotSignedIn() =>
        Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Not signed in.");

    /// <summary>The cart of a cookie or token session.</summary>
    public static IResult ReadCart(HttpSession session) => Results.Ok(new { items = session.Get(Cart) ?? [] });

    /// <summary>Adds <c>{"item"}</c> to the cart of a cookie or token session.</summary>
    public static async Task<IResult> AddToCartAsync(HttpRequest request, HttpSession session)
    {
        var (body, problem) = await ReadBodyAsync<CartRequest>(request);
        if (problem is not null)
        {
            return problem;
        }
        var item = body!.Item?.Trim();
        if (string.IsNullOrEmpty(item) || item.Length > MaxItemLength)
        {
            return BadRequest($"\"item\" must be 1 to {MaxItemLength} characters.");
        }
        var items = session.Get(Cart) ?? [];
        if (items.Count >= MaxCartItems)
        {
            return BadRequest($"The cart holds at most {MaxCartItems} items.");
        }
        items.Add(item);
        session.Set(Cart, items);
        return Results.Ok(new { items });
    }

    /// <summary>
    /// The name a password-less sign-in (<c>POST /login</c>, <c>POST /api/login</c>) signs in as, or the 400 to answer:
    /// any printable name but the operator's. A name is all these routes take, so they grant no rights at all.
    /// </summary>
    public static bool TryPasswordlessUser(string? requested, [NotNullWhen(true)] out string? user, [NotNullWhen(false)] out IResult? problem)
    {
        user = ValidUser(requested);
        if (user is null)
        {
            problem = BadRequest($"\"user\" must be 1 to {MaxUserLength} printable characters.");
            return false;
        }
        if (Pages.OperatorSignIn.IsReserved(user))
        {
            user = null;
            problem = BadRequest($"\"{Pages.OperatorSignIn.Subject}\" is kept for the operator sign-in, which takes the operator password.");
            return false;
        }
        problem = null;
        return true;
    }

    /// <summary>The trimmed user name, or <see langword="null"/> when it is empty, too long or has control characters.</summary>
    public static string? ValidUser(string? user)
    {
        user = user?.Trim();
        return string.IsNullOrEmpty(user) || user.Length > MaxUserLength || user.Any(char.IsControl) ? null : user;
    }

    /// <summary>
    /// Reads a JSON body by hand, so every malformed, mistyped or oversized body is a 4xx problem, never an exception
    /// (minimal APIs' own binding throws in Development). Requiring a JSON content type also means a cross-site HTML form
    /// cannot post here.
    /// </summary>
    public static async Task<(T? Body, IResult? Problem)> ReadBodyAsync<T>(HttpRequest request) where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Send a JSON body with Content-Type: application/json."));
        }
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, TooLarge());
        }
        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = MaxBodyBytes;
        }
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(request.Body, BodyJson, request.HttpContext.RequestAborted);
            return body is null ? (null, BadRequest("The body must be a JSON object.")) : (body, null);
        }
        catch (JsonException)
        {
            return (null, BadRequest("The body is not valid JSON of the expected shape."));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
    }

    public static IResult BadRequest(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request.", detail: detail);

    private static IResult TooLarge() =>
        Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: $"The body is larger than {MaxBodyBytes} bytes.");

    public sealed record LoginRequest(string? User);

    /// <summary>One row of <c>GET /sessions</c>.</summary>
    private sealed record SessionView(string Id, bool Current, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt, string? UserAgent, string? Ip);

    private sealed record CartRequest(string? Item);

    private sealed record FlashRequest(string? Message);
}
