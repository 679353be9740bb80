using System.Data.Common;
using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore;
using Xunit;

namespace Tessera.Testing.Identity;

/// <summary>How the app under test signs users in with ASP.NET Core Identity.</summary>
public enum IdentitySetUp
{
    /// <summary>Tessera is the authentication scheme: <c>SignInManager.AuthenticationScheme = "Tessera"</c>, <c>AddIdentityCore().AddSignInManager()</c>.</summary>
    TesseraScheme,

    /// <summary><c>AddIdentity()</c>'s cookies with their tickets in Tessera (<c>AddTesseraTicketStore()</c>).</summary>
    TicketStore,
}

/// <summary>
/// ASP.NET Core Identity's security stamp on Tessera sessions (<c>AddTesseraIdentity&lt;IdentityUser&gt;()</c>), end to
/// end: real Identity (UserManager, SignInManager, password hashing) on EF Core over a SQLite file, a real Kestrel app
/// over the store under test, and real HTTP clients as browsers, under both set-ups (Tessera as the scheme, and
/// Identity's cookies in Tessera's ticket store). Inherit it with a server-side store's kit.
/// </summary>
public abstract class IdentitySecurityStampTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    private const string Password = "first-Passw0rd";
    private const string NewPassword = "second-Passw0rd";
    private const string Me = "/identity/me";
    private const string Page = "/identity/page";
    private const string LoginPage = "/identity/login-page";

    private readonly string _database = Path.Combine(Path.GetTempPath(), $"tessera-identity-{Guid.NewGuid():N}.db");
    private readonly UserStoreFaults _userStore = new();
    private IdentitySetUp _setUp;
    private bool _hub;

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Adds Identity on EF Core SQLite in the chosen set-up, and <c>AddTesseraIdentity</c>.</summary>
    /// <param name="services">The server's services.</param>
    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        var connection = $"Data Source={_database};Pooling=False";
        services.AddDbContext<IdentityDbContext>(o => o.UseSqlite(connection).AddInterceptors(_userStore));
        // Fewer hashing rounds than production: the tests are about stamps, not about PBKDF2.
        services.Configure<PasswordHasherOptions>(o => o.IterationCount = 1000);
        if (_setUp == IdentitySetUp.TesseraScheme)
        {
            services.AddIdentityCore<IdentityUser>().AddEntityFrameworkStores<IdentityDbContext>().AddSignInManager();
        }
        else
        {
            services.AddIdentity<IdentityUser, IdentityRole>().AddEntityFrameworkStores<IdentityDbContext>();
            services.ConfigureApplicationCookie(o => o.LoginPath = LoginPage);
            services.AddAuthorization();
            services.AddTesseraTicketStore();
        }
        services.AddTesseraIdentity<IdentityUser>();
        if (_hub)
        {
            services.AddSignalR().AddTesseraConnectionLifetime();
        }
    }

    /// <summary>
    /// A user changes their password in browser 1 and the app calls <c>RefreshSignInAndRevokeOtherSessionsAsync</c>:
    /// browser 2 is refused at once (no time passes), browser 1 stays signed in with a new credential (its old cookie is
    /// refused), and the user has one session left.
    /// </summary>
    /// <param name="setUp">The set-up.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData(IdentitySetUp.TesseraScheme)]
    [InlineData(IdentitySetUp.TicketStore)]
    public async Task ChangingThePasswordWithTheAppCallEndsTheOtherBrowsersAtOnceAndKeepsThisOne(IdentitySetUp setUp)
    {
        var server = await StartAsync(setUp);
        var userId = await CreateUserAsync(server, "alice");
        using var browser1 = server.CreateClient();
        using var browser2 = server.CreateClient();
        await SignInAsync(browser1, "alice");
        await SignInAsync(browser2, "alice");
        var before = browser1.SaveCookies();

        Assert.Equal("1", await browser1.PostAsync($"/identity/change-password?revoke=true"));

        await AssertRefusedAsync(browser2);
        Assert.Equal("alice", await MeAsync(browser1));
        using var old = server.CreateClient();
        old.RestoreCookies(before);
        await AssertRefusedAsync(old);
        Assert.Equal(await browser1.GetStringAsync("/id"), Assert.Single(await server.Manager.Subjects.ListAsync(userId)).Id);
        // The kept session carries the new stamp: it passes the next check.
        Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal("alice", await MeAsync(browser1));
    }

    /// <summary>
    /// The stamp changed elsewhere (an administrator's <c>UpdateSecurityStampAsync</c>, no app call): a browser keeps
    /// working until the touch interval since its last check has passed, then is refused on its next request, and the
    /// refused cookie stays refused when replayed on another instance; the session is revoked with the reason
    /// <c>principal_rejected</c>.
    /// </summary>
    /// <param name="setUp">The set-up.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData(IdentitySetUp.TesseraScheme)]
    [InlineData(IdentitySetUp.TicketStore)]
    public async Task AStampChangedElsewhereEndsTheSessionAfterTheTouchIntervalAndTheCookieStaysRefused(IdentitySetUp setUp)
    {
        var revoked = new List<SessionRevokedEvent>();
        var first = await StartAsync(setUp, o => o.Events.OnRevoked = e => { lock (revoked) { revoked.Add(e); } return ValueTask.CompletedTask; });
        var second = await StartAsync(setUp);
        var userId = await CreateUserAsync(first, "alice");
        using var browser = first.CreateClient();
        await SignInAsync(browser, "alice");
        var saved = browser.SaveCookies();

        await UpdateStampElsewhereAsync(first, "alice");
        Clock.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal("alice", await MeAsync(browser));
        Clock.Advance(TimeSpan.FromSeconds(15));

        await AssertRefusedAsync(browser);
        foreach (var server in new[] { first, second })
        {
            using var copy = server.CreateClient();
            copy.RestoreCookies(saved);
            await AssertRefusedAsync(copy);
        }
        Assert.Empty(await first.Manager.Subjects.ListAsync(userId));
        Assert.Equal(SessionRevocationReason.PrincipalRejected, Assert.Single(revoked).Reason);
    }

    /// <summary>
    /// The stamp changed elsewhere, and the check that refuses the session (on the browser's next request after the
    /// interval) also closes the session's hub connection, told <c>principal_rejected</c>.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AStampChangeClosesTheSessionsHubConnectionWithTheReasonPrincipalRejected()
    {
        _hub = true;
        var server = await StartAsync(IdentitySetUp.TesseraScheme);
        await CreateUserAsync(server, "alice");
        using var browser = server.CreateClient();
        await SignInAsync(browser, "alice");
        await using var hub = await HubClient.ConnectAsync(server.Address, $"{browser.CookieName}={browser.Cookie}");
        Assert.Equal("pong", await hub.PingAsync()); // a hub answers only once its connect event (the watch) is done

        await UpdateStampElsewhereAsync(server, "alice");
        Clock.Advance(TimeSpan.FromMinutes(2));
        await AssertRefusedAsync(browser);

        Assert.Equal("principal_rejected", await hub.WaitForSessionEndAsync());
    }

    /// <summary>A deleted user's session is refused at its next check, and stays refused.</summary>
    /// <param name="setUp">The set-up.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData(IdentitySetUp.TesseraScheme)]
    [InlineData(IdentitySetUp.TicketStore)]
    public async Task ADeletedUsersSessionIsRefused(IdentitySetUp setUp)
    {
        var server = await StartAsync(setUp);
        var userId = await CreateUserAsync(server, "alice");
        using var browser = server.CreateClient();
        await SignInAsync(browser, "alice");
        var saved = browser.SaveCookies();

        await WithUsersAsync(server, async users => await users.DeleteAsync((await users.FindByNameAsync("alice"))!));
        Clock.Advance(TimeSpan.FromMinutes(2));

        await AssertRefusedAsync(browser);
        using var copy = server.CreateClient();
        copy.RestoreCookies(saved);
        await AssertRefusedAsync(copy);
        Assert.Empty(await server.Manager.Subjects.ListAsync(userId));
    }

    /// <summary>
    /// Within the touch interval the stamp check costs nothing: no session-store write and no user-store query. The check
    /// that comes due costs one query and one write (which also carries the session's touch), and the next interval is
    /// free again.
    /// </summary>
    /// <param name="setUp">The set-up.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData(IdentitySetUp.TesseraScheme)]
    [InlineData(IdentitySetUp.TicketStore)]
    public async Task WithinTheIntervalTheStampCheckNeitherWritesToTheStoreNorQueriesTheUsers(IdentitySetUp setUp)
    {
        var server = await StartAsync(setUp);
        await CreateUserAsync(server, "alice");
        using var browser = server.CreateClient();
        await SignInAsync(browser, "alice");

        await AssertQuietIntervalAsync(browser, "alice");

        Clock.Advance(TimeSpan.FromSeconds(25));
        Assert.Equal("alice", await MeAsync(browser));
        Assert.Equal(1, Store.Writes);
        Assert.True(_userStore.Queries > 0);

        await AssertQuietIntervalAsync(browser, "alice");
    }

    /// <summary>
    /// A user store that fails when a check is due signs nobody out: the request is answered 503 with
    /// <c>Retry-After</c>, the cookie is kept and the session stays; once the store answers, the same cookie works.
    /// </summary>
    /// <param name="setUp">The set-up.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData(IdentitySetUp.TesseraScheme)]
    [InlineData(IdentitySetUp.TicketStore)]
    public async Task AUserStoreFailureIsA503AndKeepsTheSession(IdentitySetUp setUp)
    {
        var server = await StartAsync(setUp);
        var userId = await CreateUserAsync(server, "alice");
        using var browser = server.CreateClient();
        await SignInAsync(browser, "alice");
        var cookie = browser.Cookie;
        Clock.Advance(TimeSpan.FromMinutes(2));
        _userStore.Failing = true;

        using (var response = await browser.SendAsync(HttpMethod.Get, Me))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(response.Headers.Contains("Retry-After"));
        }

        Assert.Equal(cookie, browser.Cookie);
        Assert.Single(await server.Manager.Subjects.ListAsync(userId));
        _userStore.Failing = false;
        Assert.Equal("alice", await MeAsync(browser));
    }

    /// <summary>
    /// A bearer-token session made from Identity's principal (Tessera as the scheme) is refused once its stamp changed
    /// and the interval passed: 401 with <c>WWW-Authenticate: Bearer error="invalid_token"</c>, and its refresh token is
    /// dead too. Changing the password from the token session itself, with the app call, keeps that session working.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ABearerTokenSessionIsRefusedAfterItsStampChanged()
    {
        _setUp = IdentitySetUp.TesseraScheme;
        var server = await StartTestServerAsync(Store, configure: null, MapRoutes, bearerTokens: true, authentication: true);
        await CreateDatabaseAsync(server);
        await CreateUserAsync(server, "alice");
        using var phone = server.CreateClient();
        using var tablet = server.CreateClient();
        var phoneRefresh = await TokenSignInAsync(phone);
        await TokenSignInAsync(tablet);

        Assert.Equal("1", await phone.PostAsync("/identity/change-password?revoke=true"));
        using (var refused = await tablet.SendAsync(HttpMethod.Get, Me))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal("alice", await MeAsync(phone));

        await UpdateStampElsewhereAsync(server, "alice");
        Clock.Advance(TimeSpan.FromMinutes(2));

        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var response = await phone.SendAsync(HttpMethod.Get, Me);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        Assert.False((await server.Manager.Tokens.RefreshAsync(phoneRefresh)).Succeeded);
    }

    /// <summary>Starts a server in the given set-up over <see cref="HttpConformanceTestBase{TKit}.Store"/>, with the Identity database made.</summary>
    /// <param name="setUp">The set-up.</param>
    /// <param name="configure">Tessera option changes, or <see langword="null"/>.</param>
    /// <returns>The server.</returns>
    protected async Task<TesseraTestServer> StartAsync(IdentitySetUp setUp, Action<TesseraOptions>? configure = null)
    {
        _setUp = setUp;
        var server = await StartTestServerAsync(Store, configure, MapRoutes, authentication: setUp == IdentitySetUp.TesseraScheme);
        await CreateDatabaseAsync(server);
        return server;
    }

    private static async Task CreateDatabaseAsync(TesseraTestServer server)
    {
        await using var scope = server.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IdentityDbContext>().Database.EnsureCreatedAsync();
    }

    private static async Task<string> CreateUserAsync(TesseraTestServer server, string name)
    {
        string? id = null;
        await WithUsersAsync(server, async users =>
        {
            var user = new IdentityUser(name);
            Assert.True((await users.CreateAsync(user, Password)).Succeeded);
            id = await users.GetUserIdAsync(user);
        });
        return id!;
    }

    // An administrator (or any code outside the user's requests) changes the stamp: Tessera is not told.
    private static Task UpdateStampElsewhereAsync(TesseraTestServer server, string name) =>
        WithUsersAsync(server, async users => Assert.True((await users.UpdateSecurityStampAsync((await users.FindByNameAsync(name))!)).Succeeded));

    private static async Task WithUsersAsync(TesseraTestServer server, Func<UserManager<IdentityUser>, Task> action)
    {
        await using var scope = server.Services.CreateAsyncScope();
        await action(scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>());
    }

    private static async Task SignInAsync(CookieClient browser, string name)
    {
        using var response = await browser.SendAsync(HttpMethod.Post, $"/identity/login/{name}", new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    // Signs the client in to a token session; it sends the access token from then on. Returns the refresh token.
    private static async Task<string> TokenSignInAsync(CookieClient client)
    {
        var tokens = (await client.PostAsync("/identity/token-login/alice")).Split(' ');
        client.AccessToken = tokens[0];
        return tokens[1];
    }

    private static async Task<string> MeAsync(CookieClient browser)
    {
        using var document = System.Text.Json.JsonDocument.Parse(await browser.GetStringAsync(Me));
        return document.RootElement.GetProperty("name").GetString()!;
    }

    // Refused as the set-up refuses: 401 on an API endpoint; on a page Tessera's scheme answers 401 and Identity's
    // cookie scheme redirects to its login path.
    // Twenty requests two seconds apart (40 s, inside the 1-minute touch interval), each answered as the user: none of
    // them may write to the session store or query the user store.
    private async Task AssertQuietIntervalAsync(CookieClient browser, string user)
    {
        Store.Reset();
        _userStore.Reset();
        for (var i = 0; i < 20; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(2));
            Assert.Equal(user, await MeAsync(browser));
        }
        Assert.Equal((0, 0), (Store.Writes, _userStore.Queries));
    }

    private async Task AssertRefusedAsync(CookieClient browser)
    {
        using var api = await browser.SendAsync(HttpMethod.Get, Me);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        using var page = await browser.SendAsync(HttpMethod.Get, Page);
        if (_setUp == IdentitySetUp.TicketStore)
        {
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            Assert.StartsWith(LoginPage, page.Headers.Location?.PathAndQuery, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        }
    }

    private void MapRoutes(WebApplication app)
    {
        var setUp = _setUp;
        void UseScheme(SignInManager<IdentityUser> signIn)
        {
            if (setUp == IdentitySetUp.TesseraScheme)
            {
                signIn.AuthenticationScheme = TesseraAuthenticationDefaults.AuthenticationScheme;
            }
        }
        if (setUp == IdentitySetUp.TicketStore)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }
        if (_hub)
        {
            app.MapHub<SessionTestHub>(SessionTestHub.Path);
        }
        app.MapPost("/identity/login/{name}", async (SignInManager<IdentityUser> signIn, string name) =>
        {
            UseScheme(signIn);
            var result = await signIn.PasswordSignInAsync(name, Password, isPersistent: false, lockoutOnFailure: false);
            return result.Succeeded ? Results.Text("signed in") : Results.Text(result.ToString(), statusCode: StatusCodes.Status400BadRequest);
        });
        app.MapPost("/identity/token-login/{name}", async (SignInManager<IdentityUser> signIn, SessionManager sessions, string name, CancellationToken cancellationToken) =>
        {
            var user = await signIn.UserManager.FindByNameAsync(name);
            if (user is null || !await signIn.UserManager.CheckPasswordAsync(user, Password))
            {
                return Results.Text("refused", statusCode: StatusCodes.Status400BadRequest);
            }
            var pair = await sessions.Tokens.CreateAsync(await signIn.CreateUserPrincipalAsync(user), cancellationToken: cancellationToken);
            return Results.Text($"{pair.AccessToken} {pair.RefreshToken}");
        });
        app.MapPost("/identity/change-password", async (HttpContext context, SignInManager<IdentityUser> signIn, bool revoke) =>
        {
            UseScheme(signIn);
            var user = (await signIn.UserManager.GetUserAsync(context.User))!;
            var changed = await signIn.UserManager.ChangePasswordAsync(user, Password, NewPassword);
            if (!changed.Succeeded)
            {
                return Results.Text(string.Join(", ", changed.Errors.Select(e => e.Code)), statusCode: StatusCodes.Status400BadRequest);
            }
            var revoked = revoke ? await signIn.RefreshSignInAndRevokeOtherSessionsAsync(user, context.RequestAborted) : -1;
            return Results.Text(revoked.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }).RequireAuthorization();
        app.MapGet(Me, (ClaimsPrincipal user) => new { name = user.Identity?.Name }).RequireAuthorization();
        app.MapGet(Page, () => Results.Content("<p>signed in</p>", "text/html")).RequireAuthorization();
        app.MapGet(LoginPage, () => Results.Content("<form>sign in</form>", "text/html"));
    }

    /// <summary>Counts the user store's queries, and fails them on demand (fault injection into the real database).</summary>
    private sealed class UserStoreFaults : DbCommandInterceptor
    {
        private int _queries;

        public bool Failing { get; set; }

        public int Queries => Volatile.Read(ref _queries);

        public void Reset() => Interlocked.Exchange(ref _queries, 0);

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _queries);
            return Failing
                ? throw new InvalidOperationException("The user database is unreachable (fault injected).")
                : base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
        }
    }
}
