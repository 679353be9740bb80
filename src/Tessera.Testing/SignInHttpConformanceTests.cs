using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tessera.AspNetCore;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The HTTP conformance suite of Tessera as an ASP.NET Core sign-in scheme: <c>HttpContext.SignInAsync("Tessera",
/// principal, properties)</c> and <c>SignOutAsync</c> on a real Kestrel server with Tessera authentication and bearer
/// tokens, driven by a real HTTP client over your store. The principal (claims with their value types and issuers,
/// several identities, name and role claim types) comes back on cookie and bearer requests alike; roles and claim
/// policies authorize on it. Inherit it with a server-side store that implements <see cref="Tokens.ISessionTokenStore"/>.
/// </summary>
public abstract class SignInHttpConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    private const string Scheme = TesseraAuthenticationDefaults.AuthenticationScheme;
    private const string Issuer = "https://idp.example";
    private const string AppItem = "app:item";

    /// <summary>
    /// The principal every test signs in: two identities, the second with its own name and role claim types (its role
    /// <c>ops</c> is a <c>grp</c> claim); claims with value types, issuers and original issuers, repeated types, text
    /// that JSON must escape, an identity provider's own <c>sid</c>, and roles from <paramref name="roles"/>.
    /// </summary>
    /// <param name="roles">Comma-separated <see cref="ClaimTypes.Role"/> values of the first identity.</param>
    /// <param name="padding">The length of an extra <c>padding</c> claim (to exceed a size limit), 0 for none.</param>
    /// <param name="withSubject">Whether the principal has a <see cref="ClaimTypes.NameIdentifier"/> claim.</param>
    /// <param name="withName">Whether the first identity has a <see cref="ClaimTypes.Name"/> claim (<c>Alice Example</c>).</param>
    /// <returns>The principal.</returns>
    public static ClaimsPrincipal SamplePrincipal(string roles = "", int padding = 0, bool withSubject = true, bool withName = true)
    {
        var first = new ClaimsIdentity("Test.Password");
        if (withSubject)
        {
            first.AddClaim(new Claim(ClaimTypes.NameIdentifier, "alice-id", ClaimValueTypes.String, Issuer, "https://upstream.example"));
        }
        if (withName)
        {
            first.AddClaim(new Claim(ClaimTypes.Name, "Alice Example"));
        }
        first.AddClaim(new Claim(ClaimTypes.Email, "alice@example.com", ClaimValueTypes.Email, Issuer));
        first.AddClaim(new Claim("age", "42", ClaimValueTypes.Integer32));
        first.AddClaim(new Claim("amr", "pwd", ClaimValueTypes.String, Issuer));
        first.AddClaim(new Claim("amr", "mfa", ClaimValueTypes.String, Issuer));
        first.AddClaim(new Claim("note", "üñí <&> \"quoted\" \\ \u2028 ☃"));
        first.AddClaim(new Claim(TesseraAuthenticationDefaults.SessionIdClaimType, "idp-session-7", ClaimValueTypes.String, Issuer));
        foreach (var role in roles.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            first.AddClaim(new Claim(ClaimTypes.Role, role));
        }
        if (padding > 0)
        {
            first.AddClaim(new Claim("padding", new string('x', padding)));
        }
        var second = new ClaimsIdentity("Test.Groups", "nick", "grp");
        second.AddClaim(new Claim("nick", "al"));
        second.AddClaim(new Claim("grp", "ops", ClaimValueTypes.String, "https://groups.example"));
        return new ClaimsPrincipal([first, second]);
    }

    /// <summary>
    /// Describes a principal line by line: each identity (authentication type, name and role claim types, name,
    /// authenticated) and each of its claims (type, value, value type, issuer, original issuer).
    /// </summary>
    /// <param name="principal">The principal.</param>
    /// <param name="sessionId">A session id whose <c>sid</c> claim (issued by <c>Tessera</c>) comes first in the first identity, or <see langword="null"/>.</param>
    /// <returns>The description.</returns>
    public static string Describe(ClaimsPrincipal principal, string? sessionId = null)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var text = new StringBuilder();
        var first = true;
        foreach (var identity in principal.Identities)
        {
            text.Append(CultureInfo.InvariantCulture, $"identity {identity.AuthenticationType}|{identity.NameClaimType}|{identity.RoleClaimType}|{identity.Name}|{identity.IsAuthenticated}\n");
            if (first && sessionId is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"  claim {TesseraAuthenticationDefaults.SessionIdClaimType}|{sessionId}|{ClaimValueTypes.String}|{Scheme}|{Scheme}\n");
            }
            first = false;
            foreach (var claim in identity.Claims)
            {
                text.Append(CultureInfo.InvariantCulture, $"  claim {claim.Type}|{claim.Value}|{claim.ValueType}|{claim.Issuer}|{claim.OriginalIssuer}\n");
            }
        }
        return text.ToString();
    }

    /// <summary>Starts a server with the sign-in routes under <c>/si</c>; it is stopped when the test ends.</summary>
    /// <param name="configure">Further option changes, or <see langword="null"/>.</param>
    /// <returns>The server.</returns>
    protected Task<TesseraTestServer> StartServerAsync(Action<TesseraOptions>? configure = null) =>
        StartTestServerAsync(Store, configure, MapRoutes, bearerTokens: true, authentication: true);

    /// <summary>The principal signed in comes back whole on later cookie requests, with the session id, from the one store read of the request.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInGivesBackEveryClaimAndIdentityOnLaterCookieRequests()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        Assert.Equal("ok", await client.PostAsync("/si/signin?roles=admin,auditor"));
        var sessionId = await client.GetStringAsync("/id");
        Store.Reset();

        var described = await client.GetStringAsync("/si/principal");

        Assert.Equal(Describe(SamplePrincipal("admin,auditor"), sessionId), described.Split("items\n")[0]);
        Assert.Equal(1, Store.Reads);
        Assert.Equal(0, Store.Writes);
        Assert.Equal("alice-id", await client.GetStringAsync("/whoami"));
    }

    /// <summary>Signing in issues a new credential (the old cookie is anonymous afterwards) and keeps what the anonymous session held.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInIssuesANewCredentialAndKeepsTheAnonymousData()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/cart/apple");
        var anonymous = client.Cookie;
        var id = await client.GetStringAsync("/id");

        await client.PostAsync("/si/signin");

        Assert.NotNull(client.Cookie);
        Assert.NotEqual(anonymous, client.Cookie);
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
        Assert.Equal(id, await client.GetStringAsync("/id"));
        Assert.Equal("cart", await client.GetStringAsync("/keys"));
        using var old = server.CreateClient();
        old.Cookie = anonymous;
        Assert.Equal("(anonymous)", await old.GetStringAsync("/whoami"));
        using var refused = await old.SendAsync(HttpMethod.Get, "/si/principal");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    /// <summary>Signing out destroys the session: the response clears the cookie, and a saved copy of it is refused.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningOutDestroysTheSessionSoASavedCookieIsRefused()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/si/signin?roles=admin");
        var saved = client.Cookie;

        Assert.Equal("signed out", await client.PostAsync("/si/signout"));

        Assert.Null(client.Cookie);
        using var replay = server.CreateClient();
        replay.Cookie = saved;
        using var refused = await replay.SendAsync(HttpMethod.Get, "/si/principal");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("(anonymous)", await replay.GetStringAsync("/whoami"));
    }

    /// <summary>A token session created for the principal authenticates its bearer requests as the same principal.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ABearerTokenCreatedForThePrincipalAuthenticatesAsTheSamePrincipal()
    {
        var server = await StartServerAsync();
        var pair = await server.Manager.Tokens.CreateAsync(SamplePrincipal("admin"));
        using var client = server.CreateClient();
        client.AccessToken = pair.AccessToken;
        Store.Reset();

        var described = await client.GetStringAsync("/si/principal");

        Assert.Equal(Describe(SamplePrincipal("admin"), pair.SessionId), described.Split("items\n")[0]);
        Assert.Equal(1, Store.Reads);
        Assert.Equal("alice-id", await client.GetStringAsync("/whoami"));
    }

    /// <summary>A session signed in with <see cref="TesseraSession.SignIn(string)"/> keeps today's principal: the subject as name identifier and name, and <c>sid</c>.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ASessionSignedInWithASubjectAloneKeepsTodaysPrincipal()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/bob");
        var id = await client.GetStringAsync("/id");

        Assert.Equal($"bob|bob|{id}|{TesseraAuthenticationDefaults.CookieAuthenticationType}", await client.GetStringAsync("/auth/user"));
    }

    /// <summary>
    /// A principal without a name identifier or <c>sub</c> claim signs in under its name, as the cookie-authentication
    /// ticket store does: the session is listed under that subject and authenticates as the principal.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task APrincipalWithANameButNoNameIdentifierOrSubSignsInUnderItsName()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();

        await client.PostAsync("/si/signin?withSubject=false");

        var id = await client.GetStringAsync("/id");
        Assert.Equal(id, Assert.Single(await server.Manager.Subjects.ListAsync("Alice Example")).Id);
        Assert.Equal(Describe(SamplePrincipal(withSubject: false), id), (await client.GetStringAsync("/si/principal")).Split("items\n")[0]);
    }

    /// <summary>A principal without a name identifier, a <c>sub</c> claim or a name is refused with a clear exception; nothing is signed in.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task APrincipalWithoutANameIdentifierSubOrNameIsRefusedClearly()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();

        await AssertSignInRefusedForWantOfASubjectAsync(client, "/si/signin?withSubject=false&withName=false");
    }

    /// <summary>
    /// Roles and claim policies authorize on the signed-in principal over a cookie and over a bearer token alike: a
    /// role of the first identity, a role of the second identity under its own role claim type, and claim values.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RolesAndClaimPoliciesAuthorizeOnCookieAndBearerRequestsAlike()
    {
        var server = await StartServerAsync();
        using var admin = server.CreateClient();
        await admin.PostAsync("/si/signin?roles=admin");
        using var plain = server.CreateClient();
        await plain.PostAsync("/si/signin?roles=auditor");
        using var bearerAdmin = server.CreateClient();
        bearerAdmin.AccessToken = (await server.Manager.Tokens.CreateAsync(SamplePrincipal("admin"))).AccessToken;
        using var bearerPlain = server.CreateClient();
        bearerPlain.AccessToken = (await server.Manager.Tokens.CreateAsync(SamplePrincipal())).AccessToken;
        using var anonymous = server.CreateClient();

        foreach (var (client, isAdmin) in new[] { (admin, true), (plain, false), (bearerAdmin, true), (bearerPlain, false) })
        {
            Assert.Equal(isAdmin ? HttpStatusCode.OK : HttpStatusCode.Forbidden, await StatusAsync(client, "/si/admin"));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, "/si/ops"));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, "/si/adult"));
            Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(client, "/si/mfa"));
        }
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(anonymous, "/si/ops"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(anonymous, "/si/admin"));
    }

    /// <summary>
    /// <see cref="AuthenticationProperties.IsPersistent"/> decides the cookie: a persistent sign-in's cookie carries an
    /// expiry (set again with it when the credential is regenerated later), a non-persistent one's is a browser-session
    /// cookie without <c>Expires</c> or <c>Max-Age</c>.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task APersistentSignInSetsACookieWithAnExpiryAndANonPersistentOneDoesNot()
    {
        var server = await StartServerAsync();
        using var persistent = server.CreateClient();
        using var browserSession = server.CreateClient();
        var absolute = Clock.GetUtcNow() + TesseraDefaults.AbsoluteLifetime;

        await persistent.PostAsync("/si/signin?persistent=true");
        var persistentCookie = persistent.LastSetCookie;
        await browserSession.PostAsync("/si/signin?persistent=false");
        var browserSessionCookie = browserSession.LastSetCookie;
        await persistent.PostAsync("/regenerate");
        var regenerated = persistent.LastSetCookie;

        Assert.Contains($"expires={absolute.ToString("R", CultureInfo.InvariantCulture)}", persistentCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("expires=", regenerated, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(browserSessionCookie);
        Assert.DoesNotContain("expires=", browserSessionCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("max-age", browserSessionCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(".persistent=", await persistent.GetStringAsync("/si/principal"), StringComparison.Ordinal);
    }

    /// <summary>
    /// <see cref="AuthenticationProperties.ExpiresUtc"/> before the idle deadline ends the sign-in then, however often the
    /// session is used (the session's idle deadline never passes it), and the persistent cookie expires with it.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ExpiresUtcEndsTheSignInThenEvenWhileTheSessionIsInUse()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        var ends = Clock.GetUtcNow().AddMinutes(10);

        await client.PostAsync($"/si/signin?persistent=true&expires={ends.ToUnixTimeMilliseconds()}");

        Assert.Contains($"expires={ends.ToString("R", CultureInfo.InvariantCulture)}", client.LastSetCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($".expires={ends.ToString("R", CultureInfo.InvariantCulture)}\n", await client.GetStringAsync("/si/principal"), StringComparison.Ordinal);
        for (var minute = 0; minute < 9; minute++)
        {
            Clock.Advance(TimeSpan.FromMinutes(1));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, "/si/principal"));
        }
        Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, "/si/principal"));
        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// An <see cref="AuthenticationProperties.ExpiresUtc"/> past the session's absolute deadline is clamped to it (the
    /// properties and the cookie say so, and the session still ends then); one not in the future is refused.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ExpiresUtcPastTheAbsoluteDeadlineIsClampedToItAndOneInThePastIsRefused()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        var absolute = Clock.GetUtcNow() + TesseraDefaults.AbsoluteLifetime;

        await client.PostAsync($"/si/signin?persistent=true&expires={Clock.GetUtcNow().AddDays(30).ToUnixTimeMilliseconds()}");

        Assert.Contains($"expires={absolute.ToString("R", CultureInfo.InvariantCulture)}", client.LastSetCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($".expires={absolute.ToString("R", CultureInfo.InvariantCulture)}\n", await client.GetStringAsync("/si/principal"), StringComparison.Ordinal);
        while (Clock.GetUtcNow() + TimeSpan.FromMinutes(25) < absolute)
        {
            Clock.Advance(TimeSpan.FromMinutes(25));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, "/si/principal"));
        }
        Clock.Advance(absolute - Clock.GetUtcNow());
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, "/si/principal"));

        using var late = server.CreateClient();
        using var refused = await late.SendAsync(HttpMethod.Post, $"/si/signin?expires={Clock.GetUtcNow().AddSeconds(-1).ToUnixTimeMilliseconds()}", new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("ExpiresUtc is not in the future", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(late.Cookie);
    }

    /// <summary>
    /// The properties' items are kept with the session and returned on authenticate, with the sign-in's issue time;
    /// the sign-in's redirect is not kept.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ItemsAreKeptWithTheSessionAndReturnedOnAuthenticate()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        var issued = Clock.GetUtcNow();

        await client.PostAsync("/si/signin?item=hello%20world");

        var items = (await client.GetStringAsync("/si/principal")).Split("items\n")[1];
        Assert.Equal($".issued={issued.ToString("R", CultureInfo.InvariantCulture)}\n{AppItem}=hello world\n", items);
    }

    /// <summary>
    /// The principal counts against <see cref="TesseraOptions.MaxDataBytes"/> with the session's data: a principal that
    /// does not fit is answered 413 and changes nothing (the anonymous session keeps its cookie and data, no one is
    /// signed in); one that fits signs in.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task APrincipalOverMaxDataBytesIsRefusedAndTheSessionStaysAsItWas()
    {
        var server = await StartServerAsync(options => options.MaxDataBytes = 2048);
        using var client = server.CreateClient();
        await client.PostAsync("/set/cart/apple");
        var anonymous = client.Cookie;
        Store.Reset();

        using var refused = await client.SendAsync(HttpMethod.Post, "/si/signin?padding=2048", new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Equal(0, Store.Writes);
        Assert.Equal(anonymous, client.Cookie);
        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
        Assert.Equal("ok", await client.PostAsync("/si/signin"));
        Assert.Equal("alice-id", await client.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// Signing in again with the principal authentication gave (an app adding a claim) keeps one session id claim:
    /// the one Tessera adds is not stored, the identity provider's <c>sid</c> is.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInAgainWithTheAuthenticatedPrincipalKeepsOneSessionIdClaim()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/si/signin");

        Assert.Equal("ok", await client.PostAsync("/si/add-claim"));

        var expected = SamplePrincipal();
        expected.Identities.First().AddClaim(new Claim("extra", "1"));
        var described = await client.GetStringAsync("/si/principal");
        Assert.Equal(Describe(expected, await client.GetStringAsync("/id")), described.Split("items\n")[0]);
    }

    /// <summary>
    /// Every request gets a principal and properties of its own: a claim and an item an app adds to them in one request
    /// (without signing in again) are gone on the next, and two sessions holding the same stored principal each get
    /// their own session id claim.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task WhatARequestAddsToItsPrincipalIsNotSeenByTheNextOrByAnotherSession()
    {
        var server = await StartServerAsync();
        using var alice = server.CreateClient();
        using var aliceElsewhere = server.CreateClient();
        await alice.PostAsync("/si/signin?item=kept");
        await aliceElsewhere.PostAsync("/si/signin?item=kept");
        var expected = Describe(SamplePrincipal(), await alice.GetStringAsync("/id"));

        Assert.Equal("ok", await alice.PostAsync("/si/mutate"));

        var described = await alice.GetStringAsync("/si/principal");
        Assert.Equal(expected, described.Split("items\n")[0]);
        Assert.DoesNotContain("mutated", described, StringComparison.Ordinal);
        var elsewhere = await aliceElsewhere.GetStringAsync("/si/principal");
        Assert.Equal(Describe(SamplePrincipal(), await aliceElsewhere.GetStringAsync("/id")), elsewhere.Split("items\n")[0]);
        Assert.NotEqual(await alice.GetStringAsync("/id"), await aliceElsewhere.GetStringAsync("/id"));
    }

    private static async Task<HttpStatusCode> StatusAsync(CookieClient client, string path)
    {
        using var response = await client.SendAsync(HttpMethod.Get, path);
        return response.StatusCode;
    }

    private static void MapRoutes(WebApplication app)
    {
        app.MapPost("/si/signin", async (HttpContext context, string? roles, bool? persistent, long? expires, string? item, int? padding, bool? withSubject, bool? withName) =>
        {
            var properties = new AuthenticationProperties { IsPersistent = persistent == true, RedirectUri = "/after-sign-in" };
            if (expires is { } ms)
            {
                properties.ExpiresUtc = DateTimeOffset.FromUnixTimeMilliseconds(ms);
            }
            if (item is not null)
            {
                properties.Items[AppItem] = item;
            }
            try
            {
                await context.SignInAsync(Scheme, SamplePrincipal(roles ?? "", padding ?? 0, withSubject != false, withName != false), properties);
            }
            catch (Exception e) when (e is (InvalidOperationException or ArgumentException) and not SessionDataTooLargeException)
            {
                return Results.Text($"refused: {e.Message}", statusCode: StatusCodes.Status400BadRequest);
            }
            return Results.Text("ok");
        });
        app.MapPost("/si/signout", async (HttpContext context) =>
        {
            await context.SignOutAsync(Scheme);
            return "signed out";
        });
        // The principal, then "items" and the authentication properties' items, one "key=value" a line, sorted.
        app.MapGet("/si/principal", async (HttpContext context) =>
        {
            var result = await context.AuthenticateAsync(Scheme);
            var items = result.Properties?.Items.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => $"{i.Key}={i.Value}\n") ?? [];
            return Describe(context.User) + "items\n" + string.Concat(items);
        }).RequireAuthorization();
        app.MapPost("/si/add-claim", async (HttpContext context) =>
        {
            var user = context.User;
            user.Identities.First().AddClaim(new Claim("extra", "1"));
            await context.SignInAsync(Scheme, user);
            return "ok";
        }).RequireAuthorization();
        // Changes this request's principal and properties in place, without signing in again.
        app.MapPost("/si/mutate", async (HttpContext context) =>
        {
            var result = await context.AuthenticateAsync(Scheme);
            result.Principal!.Identities.First().AddClaim(new Claim("mutated", "1"));
            result.Properties!.Items["mutated"] = "1";
            context.User.Identities.First().AddClaim(new Claim("mutated", "2"));
            return "ok";
        }).RequireAuthorization();
        app.MapGet("/si/ops", [Authorize(Roles = "ops")] () => "ops");
        app.MapGet("/si/admin", () => "admin").RequireAuthorization(policy => policy.RequireRole("admin"));
        app.MapGet("/si/adult", () => "adult").RequireAuthorization(policy => policy.RequireClaim("age", "42"));
        app.MapGet("/si/mfa", () => "mfa").RequireAuthorization(policy => policy.RequireClaim("amr", "mfa").RequireClaim("amr", "otp"));
    }
}
