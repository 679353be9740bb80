using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The HTTP conformance suite of cookie authentication with its tickets in Tessera (<c>AddCookie()</c> plus
/// <c>AddTesseraTicketStore()</c>): a real Kestrel app signs in with <c>HttpContext.SignInAsync("Cookies", ...)</c> and a
/// real HTTP client holds what the browser would. Every server-side store passes it; the cookie store is refused at
/// start-up (tested apart).
/// </summary>
public abstract class TicketStoreConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    private const string LoginPage = "/cookie-auth/login-page";
    private const string Me = "/cookie-auth/me";
    private const string Page = "/cookie-auth/page";

    private TimeSpan _expireTimeSpan = TimeSpan.FromDays(14);
    private bool _slidingExpiration = true;
    private bool _tesseraCookiePersistent;

    /// <summary>Adds cookie authentication as the default scheme with its tickets in Tessera.</summary>
    /// <param name="services">The server's services.</param>
    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        var (expire, sliding, persistent) = (_expireTimeSpan, _slidingExpiration, _tesseraCookiePersistent);
        services.Configure<TesseraCookieOptions>(o => o.Persistent = persistent);
        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
        {
            o.LoginPath = LoginPage;
            o.ExpireTimeSpan = expire;
            o.SlidingExpiration = sliding;
        });
        services.AddAuthorization();
        services.AddTesseraTicketStore();
    }

    /// <summary>
    /// Signing in keeps the anonymous session (its id and its cart), gives it a new credential and the subject, and the
    /// response sets no cookie but Tessera's: the browser holds one cookie and one session.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInTurnsTheBrowsersTesseraSessionIntoTheSignedInSessionWithOneCookie()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/cart/apple");
        var anonymousId = await client.GetStringAsync("/id");
        var anonymousCookie = client.Cookie;

        using var login = await client.SendAsync(HttpMethod.Post, "/cookie-auth/login/alice?role=editor", new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var setCookies = login.Headers.GetValues("Set-Cookie").ToList();
        Assert.All(setCookies, c => Assert.StartsWith(client.CookieName + "=", c, StringComparison.Ordinal));
        Assert.NotEqual(anonymousCookie, client.Cookie);
        Assert.Equal("alice|editor", await MeAsync(client));
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
        Assert.Equal(anonymousId, await client.GetStringAsync("/id"));
        Assert.Equal("cart", await client.GetStringAsync("/keys"));
        var sessions = await server.Manager.Subjects.ListAsync("alice");
        Assert.Equal(anonymousId, Assert.Single(sessions).Id);
    }

    /// <summary>The claims of the ticket come back on every request: roles authorize, a missing role is forbidden (403 on an API endpoint).</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheTicketsClaimsAuthorizeRequestsByRole()
    {
        var server = await StartAsync();
        using var editor = server.CreateClient();
        using var reader = server.CreateClient();
        await SignInAsync(editor, "alice", "editor");
        await SignInAsync(reader, "bob", "reader");

        Assert.Contains("editor-only", await editor.GetStringAsync("/cookie-auth/editor"), StringComparison.Ordinal);
        using var forbidden = await reader.SendAsync(HttpMethod.Get, "/cookie-auth/editor");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }

    /// <summary>
    /// After sign-out, a copy of the cookie saved while signed in is refused on both instances that share the store at
    /// once: 401 on an API endpoint, a redirect to the login path on a page, as cookie authentication answers.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AfterSignOutASavedCopyOfTheCookieIsRefusedOnEveryInstance()
    {
        var first = await StartAsync();
        var second = await StartAsync();
        using var client = first.CreateClient();
        await SignInAsync(client, "alice", "editor");
        var saved = client.SaveCookies();
        using var elsewhere = second.CreateClient();
        elsewhere.RestoreCookies(saved);
        Assert.Equal("alice|editor", await MeAsync(elsewhere));

        await client.PostAsync("/cookie-auth/logout");

        Assert.Null(client.Cookie);
        foreach (var server in new[] { first, second })
        {
            using var copy = server.CreateClient();
            copy.RestoreCookies(saved);
            await AssertRefusedAsync(copy);
        }
        Assert.Empty(await first.Manager.Subjects.ListAsync("alice"));
    }

    /// <summary>
    /// A signed-in browser's requests make no store write while the touch interval has not passed, and the cookie
    /// handler's sliding renewal, when it comes (past half of <c>ExpireTimeSpan</c>), costs one write that also carries
    /// the touch; the renewed ticket is the one later requests see.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RequestsOfASignedInBrowserMakeNoStoreWritesAndSlidingRenewalCostsOne()
    {
        _expireTimeSpan = TimeSpan.FromMinutes(20);
        var server = await StartAsync();
        using var client = server.CreateClient();
        await SignInAsync(client, "alice", "editor");

        Store.Reset();
        for (var i = 0; i < 20; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(2));
            Assert.Equal("alice|editor", await MeAsync(client));
        }
        Assert.Equal(0, Store.Writes);

        Clock.Advance(TimeSpan.FromMinutes(11));
        Store.Reset();
        Assert.Equal("alice|editor", await MeAsync(client));
        Assert.Equal(1, Store.Writes);

        Store.Reset();
        for (var i = 0; i < 20; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(2));
            Assert.Equal("alice|editor", await MeAsync(client));
        }
        Assert.Equal(0, Store.Writes);

        // Past the first ticket's 20 minutes: only the renewed ticket keeps the browser signed in.
        Clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("alice|editor", await MeAsync(client));
    }

    /// <summary>Tessera's idle timeout ends the sign-in, however long the cookie handler's own ticket would live.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TesserasIdleTimeoutEndsTheSignIn()
    {
        var server = await StartAsync(o => o.IdleTimeout = TimeSpan.FromMinutes(30));
        using var client = server.CreateClient();
        await SignInAsync(client, "alice", "editor");

        Clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal("alice|editor", await MeAsync(client));
        Clock.Advance(TimeSpan.FromMinutes(31));

        await AssertRefusedAsync(client);
    }

    /// <summary>Tessera's absolute lifetime ends the sign-in even of a browser that never stays idle.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TesserasAbsoluteLifetimeEndsTheSignInOfABusyBrowser()
    {
        var server = await StartAsync(o =>
        {
            o.IdleTimeout = TimeSpan.FromMinutes(30);
            o.AbsoluteLifetime = TimeSpan.FromHours(1);
        });
        using var client = server.CreateClient();
        await SignInAsync(client, "alice", "editor");

        for (var i = 0; i < 3; i++)
        {
            Clock.Advance(TimeSpan.FromMinutes(19));
            Assert.Equal("alice|editor", await MeAsync(client));
        }
        Clock.Advance(TimeSpan.FromMinutes(4));

        await AssertRefusedAsync(client);
    }

    /// <summary>
    /// A shorter <c>ExpireTimeSpan</c> without sliding still ends the sign-in before Tessera's idle timeout does, and the
    /// handler's expiry destroys the Tessera session.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheCookieHandlersShorterExpiryStillEndsTheSignInAndTheSession()
    {
        _expireTimeSpan = TimeSpan.FromMinutes(20);
        _slidingExpiration = false;
        var server = await StartAsync();
        using var client = server.CreateClient();
        await SignInAsync(client, "alice", "editor");

        Clock.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal("alice|editor", await MeAsync(client));
        Clock.Advance(TimeSpan.FromMinutes(6));

        await AssertRefusedAsync(client);
        Assert.Empty(await server.Manager.Subjects.ListAsync("alice"));
    }

    /// <summary>
    /// "Your devices" lists each browser's sign-in; revoking the others ends them at once, revoking all ends the last.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task YourDevicesListsEverySignInAndRevokingEndsThem()
    {
        var server = await StartAsync();
        using var laptop = server.CreateClient();
        using var phone = server.CreateClient();
        using var tablet = server.CreateClient();
        await SignInAsync(laptop, "alice", "editor");
        await SignInAsync(phone, "alice", "editor");
        await SignInAsync(tablet, "alice", "editor");
        var laptopId = await laptop.GetStringAsync("/id");
        var phoneId = await phone.GetStringAsync("/id");

        Assert.Equal(3, (await server.Manager.Subjects.ListAsync("alice")).Count);
        Assert.Equal(SubjectSessionRevocation.Revoked, await server.Manager.Subjects.RevokeAsync("alice", phoneId));
        await AssertRefusedAsync(phone);
        Assert.Equal(1, await server.Manager.Subjects.RevokeOthersAsync("alice", laptopId));
        await AssertRefusedAsync(tablet);
        Assert.Equal("alice|editor", await MeAsync(laptop));

        Assert.Equal(1, await server.Manager.Subjects.RevokeAllAsync("alice"));

        await AssertRefusedAsync(laptop);
    }

    /// <summary>Tessera's per-user limit applies: a second sign-in ends the least recently used one.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ThePerUserSessionLimitAppliesToCookieSignIns()
    {
        // The limit needs the store's own ISubjectSessionLimiter, which the counting wrapper does not pass on.
        var server = await StartAsync(o => o.MaxSessionsPerSubject = 1, Store.Inner);
        using var first = server.CreateClient();
        using var second = server.CreateClient();
        await SignInAsync(first, "alice", "editor");
        Clock.Advance(TimeSpan.FromSeconds(5));

        await SignInAsync(second, "alice", "editor");

        Assert.Equal("alice|editor", await MeAsync(second));
        await AssertRefusedAsync(first);
    }

    /// <summary>Signing in and out through cookie authentication raises Tessera's events and counts in its metrics.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInAndOutRaisesTesserasEventsAndMetrics()
    {
        var signedIn = new List<SessionSignedInEvent>();
        var revoked = new List<SessionRevokedEvent>();
        var server = await StartAsync(o =>
        {
            o.Events.OnSignedIn = e => { lock (signedIn) { signedIn.Add(e); } return ValueTask.CompletedTask; };
            o.Events.OnRevoked = e => { lock (revoked) { revoked.Add(e); } return ValueTask.CompletedTask; };
        });
        using var metrics = new TesseraMetricCollector(server.Services.GetRequiredService<IMeterFactory>());
        using var client = server.CreateClient();

        await SignInAsync(client, "alice", "editor");
        var id = await client.GetStringAsync("/id");
        await client.PostAsync("/cookie-auth/logout");

        var signIn = Assert.Single(signedIn);
        Assert.Equal(("alice", id), (signIn.Subject, signIn.SessionId));
        var revocation = Assert.Single(revoked);
        Assert.Equal(("alice", id), (revocation.Subject, revocation.SessionId));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.SessionsSignedIn));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.SessionsRevoked));
    }

    /// <summary>
    /// Signing in as another user on the same browser starts over (the first user's data and ticket are gone), and the
    /// new user's cookie works where the old one no longer does.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInAsAnotherUserDropsTheFirstUsersDataAndCookie()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await SignInAsync(client, "alice", "editor");
        await client.PostAsync("/set/notes/secret");
        var alices = client.SaveCookies();

        await SignInAsync(client, "bob", "reader");

        Assert.Equal("bob|reader", await MeAsync(client));
        Assert.Equal("(none)", await client.GetStringAsync("/read/notes"));
        using var old = server.CreateClient();
        old.RestoreCookies(alices);
        await AssertRefusedAsync(old);
    }

    /// <summary>A request without any cookie, and one with only an anonymous Tessera session, are not authenticated and write nothing.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AnAnonymousSessionIsNotSignedInAndReadingItWritesNothing()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await AssertRefusedAsync(client);
        await client.PostAsync("/set/cart/apple");
        Store.Reset();

        await AssertRefusedAsync(client);

        Assert.Equal(0, Store.Writes);
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
    }

    /// <summary>
    /// A store that fails while the ticket is read is answered 503 with <c>Retry-After</c> (the failure contract), never
    /// with a 401 or a redirect to sign in, and the browser keeps its cookie, which works again once the store is back.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AStoreFailureWhileReadingTheTicketIsA503NotASignInRedirect()
    {
        var faults = new FaultySessionStore(Store);
        var server = await StartAsync(store: faults);
        using var client = server.CreateClient();
        await SignInAsync(client, "alice", "editor");
        var cookie = client.Cookie;
        faults.Failure = () => new InvalidOperationException("The store is unreachable (fault injected).");

        foreach (var path in new[] { Me, Page })
        {
            using var response = await client.SendAsync(HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(response.Headers.Contains("Retry-After"));
        }

        Assert.Equal(cookie, client.Cookie);
        faults.Heal();
        Assert.Equal("alice|editor", await MeAsync(client));
    }

    /// <summary>
    /// The ticket's <see cref="AuthenticationProperties.IsPersistent"/> decides Tessera's cookie, as under
    /// <c>SignInAsync("Tessera")</c>: a persistent sign-in's cookie expires at the session's absolute deadline, a
    /// non-persistent one's is a browser-session cookie without <c>Expires</c> or <c>Max-Age</c>, whatever
    /// <c>Tessera:Cookie:Persistent</c> says; a later regeneration keeps the choice.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheTicketsIsPersistentDecidesWhetherTesserasCookieOutlivesTheBrowser()
    {
        var absolute = Clock.GetUtcNow() + TesseraDefaults.AbsoluteLifetime;
        var server = await StartAsync();
        using var remembered = server.CreateClient();
        using var forgotten = server.CreateClient();

        await SignInAsync(remembered, "alice", "editor", persistent: true);
        var rememberedCookie = remembered.LastSetCookie;
        await SignInAsync(forgotten, "bob", "editor", persistent: false);
        var forgottenCookie = forgotten.LastSetCookie;
        await remembered.PostAsync("/regenerate");

        Assert.Contains($"expires={absolute.ToString("R", CultureInfo.InvariantCulture)}", rememberedCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("expires=", remembered.LastSetCookie, StringComparison.OrdinalIgnoreCase);
        AssertBrowserSessionCookie(forgottenCookie);

        _tesseraCookiePersistent = true;
        var persistentByDefault = await StartAsync();
        using var notRemembered = persistentByDefault.CreateClient();
        await SignInAsync(notRemembered, "carol", "editor", persistent: false);
        AssertBrowserSessionCookie(notRemembered.LastSetCookie);
        Assert.Equal("carol|editor", await MeAsync(notRemembered));
    }

    /// <summary>
    /// Signing in again as the same user with "remember me" (the cookie handler renews the ticket in the session) sends a
    /// new cookie with an expiry: the old, browser-session one stops working.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInAgainWithRememberMeReissuesTesserasCookieWithAnExpiry()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await SignInAsync(client, "alice", "editor", persistent: false);
        var browserSession = client.SaveCookies();
        AssertBrowserSessionCookie(client.LastSetCookie);

        await SignInAsync(client, "alice", "editor", persistent: true);

        Assert.Contains("expires=", client.LastSetCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("alice|editor", await MeAsync(client));
        using var old = server.CreateClient();
        old.RestoreCookies(browserSession);
        await AssertRefusedAsync(old);
    }

    /// <summary>
    /// A principal without a name identifier or <c>sub</c> claim signs in under its name (cookie apps often sign in with
    /// a user name alone): "your devices" lists the session under that name.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task APrincipalWithOnlyANameSignsInUnderThatName()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();

        await SignInAsync(client, "alice", "editor", claims: "name");

        Assert.Equal("alice|editor", await MeAsync(client));
        Assert.Equal(await client.GetStringAsync("/id"), Assert.Single(await server.Manager.Subjects.ListAsync("alice")).Id);
    }

    /// <summary>
    /// A principal without a name identifier, a <c>sub</c> claim or a name cannot be signed in: the cookie handler's
    /// <c>SignInAsync</c> throws an <see cref="InvalidOperationException"/> that says which claims were looked for, and
    /// nothing is written or set.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task APrincipalWithoutANameIdentifierSubOrNameIsRefusedAndNothingIsSignedIn()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();

        await AssertSignInRefusedForWantOfASubjectAsync(client, "/cookie-auth/login/alice?role=editor&claims=role");
    }

    /// <summary>Starts a server over <see cref="HttpConformanceTestBase{TKit}.Store"/> with cookie authentication and its routes.</summary>
    /// <param name="configure">Tessera option changes, or <see langword="null"/>.</param>
    /// <param name="store">The store, or <see langword="null"/> for <see cref="HttpConformanceTestBase{TKit}.Store"/>.</param>
    /// <returns>The server.</returns>
    protected Task<TesseraTestServer> StartAsync(Action<TesseraOptions>? configure = null, ISessionStore? store = null) =>
        StartTestServerAsync(store ?? Store, configure, MapRoutes);

    // claims: "all" (name identifier, name, role), "name" (name and role) or "role" (the role alone).
    private static async Task SignInAsync(CookieClient client, string user, string role, bool persistent = false, string claims = "all")
    {
        using var response = await client.SendAsync(HttpMethod.Post, $"/cookie-auth/login/{user}?role={role}&persistent={persistent}&claims={claims}", new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static void AssertBrowserSessionCookie(string? setCookie)
    {
        Assert.NotNull(setCookie);
        Assert.DoesNotContain("expires=", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("max-age", setCookie, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<string> MeAsync(CookieClient client)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync(Me));
        var root = document.RootElement;
        return $"{root.GetProperty("name").GetString()}|{string.Join(',', root.GetProperty("roles").EnumerateArray().Select(r => r.GetString()))}";
    }

    // Refused as cookie authentication refuses: 401 on an API endpoint, a redirect to the login path on a page.
    private static async Task AssertRefusedAsync(CookieClient client)
    {
        using var api = await client.SendAsync(HttpMethod.Get, Me);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        using var page = await client.SendAsync(HttpMethod.Get, Page);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith(LoginPage, page.Headers.Location?.PathAndQuery, StringComparison.Ordinal);
    }

    private static void MapRoutes(WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapPost("/cookie-auth/login/{user}", async (HttpContext context, string user, string role, bool? persistent, string? claims) =>
        {
            var identity = new ClaimsIdentity(CookieAuthenticationDefaults.AuthenticationScheme);
            if (claims is null or "all")
            {
                identity.AddClaim(new Claim(ClaimTypes.NameIdentifier, user));
            }
            if (claims is null or "all" or "name")
            {
                identity.AddClaim(new Claim(ClaimTypes.Name, user));
            }
            identity.AddClaim(new Claim(ClaimTypes.Role, role));
            try
            {
                await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity), new AuthenticationProperties { IsPersistent = persistent == true });
            }
            catch (InvalidOperationException e)
            {
                return Results.Text($"refused: {e.Message}", statusCode: StatusCodes.Status400BadRequest);
            }
            return Results.Text("signed in");
        });
        app.MapPost("/cookie-auth/logout", async (HttpContext context) =>
        {
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return "signed out";
        });
        app.MapGet(Me, (ClaimsPrincipal user) => new { name = user.Identity?.Name, roles = user.FindAll(ClaimTypes.Role).Select(c => c.Value) })
            .RequireAuthorization();
        app.MapGet(Page, () => Results.Content("<p>signed in</p>", "text/html")).RequireAuthorization();
        app.MapGet("/cookie-auth/editor", () => new { page = "editor-only" }).RequireAuthorization(p => p.RequireRole("editor"));
        app.MapGet(LoginPage, () => Results.Content("<form>sign in</form>", "text/html"));
    }
}
