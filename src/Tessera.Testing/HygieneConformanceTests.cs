using Microsoft.Extensions.Logging.Testing;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.AspNetCore;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// Cookie and header hygiene over HTTP (a real Kestrel server and client over your store): every response that sets or
/// clears the credential is <c>no-store</c> and keeps the cookie's attributes (<c>__Host-</c>, <c>Secure</c>,
/// <c>HttpOnly</c>, <c>SameSite</c>, path <c>/</c>, no domain), token responses are <c>no-store</c>, no credential is
/// accepted from or put into a URL, no credential or session id reaches a log line, and <c>Clear-Site-Data</c> is sent on
/// sign-out exactly when <see cref="TesseraCookieOptions.ClearSiteDataOnSignOut"/> asks for it. Inherit it and implement
/// <see cref="HttpConformanceTestBase{TKit}.CreateStore"/> with a store that implements <see cref="ISessionTokenStore"/>,
/// <see cref="ISubjectSessionIndex"/> and <see cref="ISubjectSessionLimiter"/>.
/// </summary>
public abstract class HygieneConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>The store implements the optional interfaces this suite needs; when it does not, this test names them.</summary>
    [Fact]
    public void TheStoreImplementsWhatThisSuiteNeeds() =>
        StoreCapabilities.AssertImplements(Store, nameof(HygieneConformanceTests<TKit>), typeof(ISubjectSessionLimiter), typeof(Tokens.ISessionTokenStore));

    private const string ClearSiteDataHeader = "Clear-Site-Data";

    /// <summary>
    /// Every response that sets or clears the session cookie (first write, sign-in, regenerate, destroy, and a session
    /// revoked while its request ran) is <c>Cache-Control: no-store</c> with <c>Pragma: no-cache</c>, and the cookie keeps
    /// the <c>__Host-</c> name, <c>Secure</c>, <c>HttpOnly</c>, <c>SameSite=Lax</c>, path <c>/</c> and no domain, the
    /// clearing cookies too (a browser ignores a <c>__Host-</c> deletion without them).
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task EveryResponseThatSetsOrClearsTheCookieIsNoStoreAndKeepsItsAttributes()
    {
        var server = await StartTestServerAsync(Store, null, MapRevokeDuringRequest);
        using var client = server.CreateClient();
        var seen = new List<string>();

        async Task StepAsync(string path, bool clears)
        {
            using var response = await client.SendAsync(HttpMethod.Post, path, new ByteArrayContent([]));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var header = client.LastSetCookie ?? throw new Xunit.Sdk.XunitException($"{path} set no session cookie");
            AssertNoStore(response, path);
            AssertCookieAttributes(header, "lax", path);
            Assert.Equal(clears, header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase));
            Assert.Equal(clears, client.Cookie is null);
            seen.Add(path);
        }

        await StepAsync("/set/a/1", clears: false);
        await StepAsync("/signin/alice", clears: false);
        await StepAsync("/regenerate", clears: false);
        await StepAsync("/destroy", clears: true);
        await StepAsync("/set/b/2", clears: false);
        await StepAsync("/revoke-during-request", clears: true);

        Assert.Equal(6, seen.Count);
        Assert.Equal("__Host-tessera", client.CookieName);
    }

    /// <summary>A configured SameSite mode is written on the cookie that sets the session and on the one that clears it.</summary>
    /// <param name="mode">The SameSite mode configured.</param>
    /// <param name="attribute">The attribute value expected, lower case.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData(SameSiteMode.Strict, "strict")]
    [InlineData(SameSiteMode.None, "none")]
    public async Task AConfiguredSameSiteIsWrittenWhenTheCookieIsSetAndCleared(SameSiteMode mode, string attribute)
    {
        var server = await StartWithCookieOptionsAsync(Store, o => o.SameSite = mode);
        using var client = server.CreateClient();

        await client.PostAsync("/signin/alice");
        AssertCookieAttributes(client.LastSetCookie!, attribute, "sign-in");
        await client.PostAsync("/destroy");
        AssertCookieAttributes(client.LastSetCookie!, attribute, "destroy");
        Assert.Null(client.Cookie);
    }

    /// <summary>
    /// Token responses are <c>no-store</c> too: an application's sign-in answered with
    /// <see cref="TesseraTokenResults.Tokens"/>, and a rejected refresh (the successful one is checked by
    /// <see cref="TokenHttpConformanceTests{TKit}"/>). Neither sets a cookie.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TokenResponsesAreNoStore()
    {
        var server = await StartTestServerAsync(Store, null, MapTokenSignIn, bearerTokens: true);
        using var client = server.CreateClient();

        using (var signIn = await client.SendAsync(HttpMethod.Post, "/token-signin/alice", new ByteArrayContent([])))
        {
            Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
            AssertNoStore(signIn, "token sign-in");
            Assert.False(signIn.Headers.Contains("Set-Cookie"));
            using var pair = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync());
            Assert.False(string.IsNullOrEmpty(pair.RootElement.GetProperty("refreshToken").GetString()));
        }
        using (var refused = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", new StringContent("{\"refreshToken\":\"not.a.jwt\"}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            AssertNoStore(refused, "rejected refresh");
        }
    }

    /// <summary>
    /// No credential travels in a URL: a valid cookie value or access token in the query string, and a session id presented
    /// as the cookie, all find no session; and a handler's redirect after sign-in carries exactly the application's
    /// location, with no credential or session id added, and no header but Set-Cookie carries the credential.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task NoCredentialIsTakenFromOrPutIntoAUrl()
    {
        var server = await StartTestServerAsync(Store, null, app =>
        {
            MapTokenSignIn(app);
            app.MapPost("/signin-then-redirect/{user}", (HttpSession session, string user) =>
            {
                session.SignIn(user);
                return Results.Redirect("/whoami");
            });
        }, bearerTokens: true);
        using var client = server.CreateClient();

        string cookie;
        using (var response = await client.SendAsync(HttpMethod.Post, "/signin-then-redirect/alice", new ByteArrayContent([])))
        {
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.Equal("/whoami", response.Headers.Location?.OriginalString);
            cookie = client.Cookie ?? throw new Xunit.Sdk.XunitException("the sign-in set no cookie");
            var id = await client.GetStringAsync("/id");
            foreach (var header in response.Headers.Where(h => h.Key != "Set-Cookie").Concat(response.Content.Headers))
            {
                Assert.DoesNotContain(header.Value, v => v.Contains(cookie, StringComparison.Ordinal) || v.Contains(id, StringComparison.Ordinal));
            }
            Assert.Equal("alice", await client.GetStringAsync("/whoami"));

            using var anonymous = server.CreateClient();
            Assert.Equal("(anonymous)", await anonymous.GetStringAsync($"/whoami?{server.CookieName}={Uri.EscapeDataString(cookie)}"));
            Assert.Equal("(anonymous)", await anonymous.GetStringAsync($"/whoami?session={Uri.EscapeDataString(cookie)}&sid={id}"));
            anonymous.Cookie = id;
            Assert.Equal("(anonymous)", await anonymous.GetStringAsync("/whoami"));
        }

        var pair = await server.Manager.Tokens.CreateAsync("bob");
        using var tokenless = server.CreateClient();
        Assert.Equal("(anonymous)", await tokenless.GetStringAsync($"/whoami?access_token={pair.AccessToken}"));
        tokenless.AccessToken = pair.AccessToken;
        Assert.Equal("bob", await tokenless.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// Through a whole flow (cookie sign-in, regenerate, sign-out, a replayed and a tampered cookie, token sign-in,
    /// refresh, a reuse detected as a leak, sign-out) logged at Debug, no cookie value, access or refresh token, token id
    /// or session id appears in any log line, while the flow's warning (the leak) was logged.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task NoCredentialOrSessionIdReachesALogLine()
    {
        var server = await StartTestServerAsync(Store, null, MapTokenSignIn, bearerTokens: true);
        var secrets = new List<string>();
        using var client = server.CreateClient();

        await client.PostAsync("/set/cart/apple");
        secrets.Add(client.Cookie!);
        secrets.Add(await client.GetStringAsync("/id"));
        await client.PostAsync("/signin/alice");
        secrets.Add(client.Cookie!);
        await client.PostAsync("/regenerate");
        var beforeSignOut = client.Cookie!;
        secrets.Add(beforeSignOut);
        secrets.Add(await client.GetStringAsync("/id"));
        await client.PostAsync("/destroy");
        using (var replay = server.CreateClient())
        {
            replay.Cookie = beforeSignOut;
            Assert.Equal("(anonymous)", await replay.GetStringAsync("/whoami"));
            replay.Cookie = beforeSignOut[..^2] + (beforeSignOut[^2] == 'A' ? "B" : "A") + beforeSignOut[^1];
            Assert.Equal("(anonymous)", await replay.GetStringAsync("/whoami"));
        }

        TokenPair first;
        using (var signIn = await client.SendAsync(HttpMethod.Post, "/token-signin/bob", new ByteArrayContent([])))
        {
            using var json = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync());
            first = new TokenPair(json.RootElement.GetProperty("accessToken").GetString()!, json.RootElement.GetProperty("refreshToken").GetString()!, default, default, string.Empty);
        }
        var second = await RefreshAsync(client, first.RefreshToken, HttpStatusCode.OK);
        Clock.Advance(server.Manager.Options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));
        await RefreshAsync(client, first.RefreshToken, HttpStatusCode.Unauthorized);
        client.AccessToken = second.AccessToken;
        using (var logout = await client.SendAsync(HttpMethod.Post, "/tokens/logout"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, logout.StatusCode);
        }
        foreach (var token in new[] { first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken })
        {
            secrets.Add(token);
            secrets.Add(Claim(token, "jti"));
            secrets.Add(Claim(token, "sid"));
        }

        var logged = server.Logs.AllText();
        Assert.Contains(server.Logs.GetSnapshot(), e => e.Id.Id == 1010 && e.Level == LogLevel.Warning);
        foreach (var secret in secrets.Distinct(StringComparer.Ordinal))
        {
            Assert.True(secret.Length >= 16, "every secret checked is long enough not to match by chance");
            Assert.DoesNotContain(secret, logged, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// By default a sign-out sends no <c>Clear-Site-Data</c>. With <see cref="TesseraCookieOptions.ClearSiteDataOnSignOut"/>
    /// set, the response that destroys the session sends exactly the configured directives, and no other response does:
    /// not a sign-in, not a sign-out followed by a new write in the same request (a new session), not a session revoked
    /// while its request ran, not a sign-in the session limit refused.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ClearSiteDataIsSentOnSignOutOnlyWhenConfigured()
    {
        var plain = await StartTestServerAsync();
        using (var client = plain.CreateClient())
        {
            await client.PostAsync("/signin/alice");
            using var signOut = await client.SendAsync(HttpMethod.Post, "/destroy", new ByteArrayContent([]));
            Assert.NotNull(client.LastSetCookie);
            Assert.False(signOut.Headers.Contains(ClearSiteDataHeader));
        }

        var limited = CreateStore();
        var server = await StartWithCookieOptionsAsync(
            limited,
            o => o.ClearSiteDataOnSignOut = ClearSiteDataTypes.Cookies | ClearSiteDataTypes.Storage,
            o =>
            {
                o.MaxSessionsPerSubject = 1;
                o.SessionLimitPolicy = SessionLimitPolicy.RefuseNewSignIn;
            },
            app =>
            {
                MapRevokeDuringRequest(app);
                app.MapPost("/destroy-then-write", (HttpSession session) =>
                {
                    session.Destroy();
                    session.Set("after", "sign-out");
                    return "ok";
                });
            });
        using var alice = server.CreateClient();

        Assert.Null(await ClearSiteDataAsync(alice, "/signin/alice"));
        Assert.Equal("\"cookies\", \"storage\"", await ClearSiteDataAsync(alice, "/destroy"));
        Assert.Null(alice.Cookie);

        Assert.Null(await ClearSiteDataAsync(alice, "/signin/alice"));
        Assert.Null(await ClearSiteDataAsync(alice, "/destroy-then-write"));
        Assert.NotNull(alice.Cookie); // the write after the sign-out started a new, anonymous session
        Assert.Null(await ClearSiteDataAsync(alice, "/revoke-during-request"));
        Assert.Null(alice.Cookie);

        Assert.Null(await ClearSiteDataAsync(alice, "/signin/alice"));
        using var second = server.CreateClient();
        Assert.Null(await ClearSiteDataAsync(second, "/signin/alice")); // refused by the limit: cleared, not signed out
        Assert.Null(second.Cookie);
        Assert.Equal("(anonymous)", await second.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// <see cref="TesseraCookieOptions.ClearSiteDataOnSignOut"/> binds from configuration as a comma-separated list
    /// (<c>Tessera:Cookie:ClearSiteDataOnSignOut</c>), and an undefined value fails start-up validation.
    /// </summary>
    [Fact]
    public void ClearSiteDataOnSignOutBindsFromConfigurationAndUnknownTypesFailValidation()
    {
        Assert.Equal(ClearSiteDataTypes.Cookies | ClearSiteDataTypes.Storage, CookieOptionsFrom("Cookies, Storage").ClearSiteDataOnSignOut);
        Assert.Equal(ClearSiteDataTypes.None, CookieOptionsFrom(null).ClearSiteDataOnSignOut);
        var error = Assert.Throws<OptionsValidationException>(() => CookieOptionsFrom("16"));
        Assert.Contains("ClearSiteDataOnSignOut", error.Message, StringComparison.Ordinal);
    }

    private static TesseraCookieOptions CookieOptionsFrom(string? clearSiteData)
    {
        var settings = new Dictionary<string, string?> { ["Tessera:Keys:0"] = SigningKeyRing.GenerateBase64Key() };
        if (clearSiteData is not null)
        {
            settings["Tessera:Cookie:ClearSiteDataOnSignOut"] = clearSiteData;
        }
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddTessera();
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<TesseraCookieOptions>>().Value;
    }

    // TesseraTestServer takes no cookie options: change the options object it bound before the server starts, which is
    // when the cookie transport is built from it (start-up validation has already run on the bound values).
    private Task<TesseraTestServer> StartWithCookieOptionsAsync(ISessionStore store, Action<TesseraCookieOptions> cookie, Action<TesseraOptions>? configure = null, Action<WebApplication>? routes = null) =>
        StartTestServerAsync(store, configure, app =>
        {
            cookie(app.Services.GetRequiredService<IOptions<TesseraCookieOptions>>().Value);
            routes?.Invoke(app);
        });

    // POST /revoke-during-request: loads the session, has it revoked (as from another device), then writes to it, so the
    // commit finds it gone and clears the cookie.
    private static void MapRevokeDuringRequest(WebApplication app) =>
        app.MapPost("/revoke-during-request", async (HttpSession session, SessionManager manager, CancellationToken cancellationToken) =>
        {
            Assert.True(await manager.RevokeAsync(session.Id, cancellationToken));
            session.Set("late", "write");
            return "ok";
        });

    // POST /token-signin/{user}: an application's token sign-in, answered the way Tessera recommends.
    private static void MapTokenSignIn(WebApplication app) =>
        app.MapPost("/token-signin/{user}", async (SessionManager manager, string user, CancellationToken cancellationToken) =>
            TesseraTokenResults.Tokens(await manager.Tokens.CreateAsync(user, cancellationToken: cancellationToken)));

    private static async Task<string?> ClearSiteDataAsync(CookieClient client, string path)
    {
        using var response = await client.SendAsync(HttpMethod.Post, path, new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(client.LastSetCookie);
        return response.Headers.TryGetValues(ClearSiteDataHeader, out var values) ? string.Join(", ", values) : null;
    }

    private static async Task<TokenPair> RefreshAsync(CookieClient client, string refreshToken, HttpStatusCode expected)
    {
        using var response = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", new StringContent(JsonSerializer.Serialize(new { refreshToken }), Encoding.UTF8, "application/json"));
        Assert.Equal(expected, response.StatusCode);
        if (expected != HttpStatusCode.OK)
        {
            return null!;
        }
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return new TokenPair(json.RootElement.GetProperty("accessToken").GetString()!, json.RootElement.GetProperty("refreshToken").GetString()!, default, default, string.Empty);
    }

    private static string Claim(string jwt, string name)
    {
        using var json = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(jwt.Split('.')[1]));
        return json.RootElement.GetProperty(name).GetString()!;
    }

    private static void AssertNoStore(HttpResponseMessage response, string step)
    {
        Assert.True(response.Headers.CacheControl?.NoStore == true, $"{step}: Cache-Control is '{response.Headers.CacheControl}', not no-store");
        Assert.Contains("no-cache", response.Headers.Pragma.Select(p => p.Name));
    }

    private static void AssertCookieAttributes(string setCookie, string sameSite, string step)
    {
        var header = setCookie.ToLowerInvariant();
        Assert.True(header.StartsWith("__host-tessera=", StringComparison.Ordinal), $"{step}: {setCookie}");
        Assert.True(header.Contains("; secure", StringComparison.Ordinal), $"{step}: no Secure in {setCookie}");
        Assert.True(header.Contains("; httponly", StringComparison.Ordinal), $"{step}: no HttpOnly in {setCookie}");
        Assert.True(header.Contains("; samesite=" + sameSite, StringComparison.Ordinal), $"{step}: not SameSite={sameSite} in {setCookie}");
        Assert.True(header.Contains("; path=/;", StringComparison.Ordinal) || header.EndsWith("; path=/", StringComparison.Ordinal), $"{step}: path is not / in {setCookie}");
        Assert.False(header.Contains("domain=", StringComparison.Ordinal), $"{step}: a Domain in {setCookie}");
    }
}
