using System.Net;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Xunit;

namespace Tessera.Testing.OpenIdConnect;

/// <summary>
/// External logins end to end: ASP.NET Core's OpenID Connect handler with <c>SignInScheme = "Tessera"</c> signs a user
/// in to a Tessera session over your store, against a real provider (<see cref="OpenIddictProvider"/>), both on Kestrel
/// over HTTPS with a certificate made at run time, driven by <see cref="TestBrowser"/> through the authorization code
/// flow with PKCE. Inherit it with a server-side store's kit.
/// </summary>
public abstract class OpenIdConnectSignInTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    private readonly TestCertificate _certificate = TestCertificate.Create();
    private readonly List<IAsyncDisposable> _hosts = [];

    /// <inheritdoc />
    public override ValueTask InitializeAsync()
    {
        // The provider and the token validation run on the machine's clock, and a browser drops a cookie whose Expires
        // has passed by that clock: Tessera's clock (and the handlers', the same TimeProvider) starts at the real now.
        Clock.SetUtcNow(TimeProvider.System.GetUtcNow());
        return base.InitializeAsync();
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(_hosts))
        {
            await host.DisposeAsync();
        }
        _certificate.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>
    /// The code flow (response mode <c>query</c>, PKCE) ends in a signed-in Tessera session: the subject is the
    /// provider's <c>sub</c>, the identity token's name, email and role are on the principal that authentication and
    /// <c>[Authorize(Roles = ...)]</c> see, the tokens are kept server-side with the session, the credential is new while
    /// the anonymous session's data stays, and the handler's correlation and nonce cookies were
    /// <c>Secure; SameSite=None</c> and came back on the callback. The provider requires PKCE of this client, so the
    /// sign-in shows the handler used it; the items kept are the handler's (its scheme, the tokens, the redirect URI it
    /// redeemed the code with) and Tessera's issue time, not the sign-in's redirect or the PKCE verifier.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInThroughTheProviderGivesATesseraSessionWithTheIdentityTokensClaims()
    {
        var (provider, app) = await StartAsync(OpenIdConnectResponseMode.Query);
        using var browser = new TestBrowser(_certificate);
        var home = app.Address;
        var (anonymousCookie, anonymousId) = await ShopAnonymouslyAsync(browser, app);

        var (landed, profile) = await browser.NavigateAsync(new Uri(home, "/login?returnUrl=%2Fprofile"), initiator: home);

        using (profile)
        {
            Assert.Equal(new Uri(home, "/profile"), landed);
            Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
            var sessionId = await GetAsync(browser, home, "/id");
            Assert.Equal(
                $"""
                authenticationType=AuthenticationTypes.Federation
                subject={OpenIddictProvider.Subject}
                nameIdentifier={OpenIddictProvider.Subject}
                name={OpenIddictProvider.Name}
                email={OpenIddictProvider.Email}
                roles={OpenIddictProvider.Role}
                issuer={provider.Issuer}
                sid={sessionId}
                tokens=access_token,expires_at,id_token,token_type
                items=.AuthScheme,.Token.access_token,.Token.expires_at,.Token.id_token,.Token.token_type,.TokenNames,.issued,OpenIdConnect.Code.RedirectUri
                """,
                (await profile.Content.ReadAsStringAsync()).Split("\naccessTokenLength=")[0]);
            Assert.NotEqual("0", (await profile.Content.ReadAsStringAsync()).Split("\naccessTokenLength=")[1]);
            // The id is public and stays; the credential is what signing in renews.
            Assert.Equal(anonymousId, sessionId);
        }
        Assert.Equal(1, provider.Logins);
        var signedInCookie = browser.Cookie(home, app.CookieName)!;
        Assert.NotEqual(anonymousCookie, signedInCookie);
        Assert.Equal("apple", await GetAsync(browser, home, "/cart"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(browser, home, "/operators"));
        AssertHandlerCookiesWereSecureSameSiteNoneAndCameBack(browser, app);

        using var replay = new TestBrowser(_certificate);
        replay.PutCookie(home, app.CookieName, anonymousCookie);
        Assert.Equal("(anonymous)", await GetAsync(replay, home, "/whoami"));
    }

    /// <summary>
    /// Signing out on Tessera ends the session the provider's login made: the cookie is cleared, and a saved copy of the
    /// signed-in cookie is refused afterwards (401 on an authorized endpoint, anonymous on an open one).
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningOutOnTesseraEndsTheSessionAndASavedCookieIsRefused()
    {
        var (_, app) = await StartAsync(OpenIdConnectResponseMode.Query);
        using var browser = new TestBrowser(_certificate);
        var home = app.Address;
        await SignInAsync(browser, home);
        var saved = browser.Cookie(home, app.CookieName)!;
        Assert.Equal(OpenIddictProvider.Subject, await GetAsync(browser, home, "/whoami"));

        Assert.Equal("signed out", await PostAsync(browser, home, "/logout"));

        Assert.Null(browser.Cookie(home, app.CookieName));
        using var replay = new TestBrowser(_certificate);
        replay.PutCookie(home, app.CookieName, saved);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(replay, home, "/profile"));
        Assert.Equal("(anonymous)", await GetAsync(replay, home, "/whoami"));
    }

    /// <summary>
    /// With the handler's default response mode, <c>form_post</c>, from a provider on the application's own site, the
    /// callback is a same-site POST that carries the anonymous session's <c>SameSite=Lax</c> cookie: the request-origin
    /// guard lets it through (it is the handler's callback, protected by its own correlation cookie and state), and the
    /// sign-in keeps the anonymous data.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFormPostCallbackFromTheSameSiteKeepsTheAnonymousData()
    {
        var (_, app) = await StartAsync(OpenIdConnectResponseMode.FormPost, providerHost: "127.0.0.1");
        using var browser = new TestBrowser(_certificate);
        var home = app.Address;
        var (_, anonymousId) = await ShopAnonymouslyAsync(browser, app);

        await SignInAsync(browser, home);

        Assert.Equal("apple", await GetAsync(browser, home, "/cart"));
        Assert.Equal(anonymousId, await GetAsync(browser, home, "/id"));
        Assert.Contains(browser.SetCookies, c => c.Url.AbsolutePath == "/signin-oidc" && c.Header.StartsWith(app.CookieName + "=", StringComparison.Ordinal));
    }

    /// <summary>
    /// With <c>form_post</c> from a provider on another site, a browser does not send the <c>SameSite=Lax</c> session
    /// cookie with the cross-site POST: the sign-in works, in a new session without the anonymous data (which is why the
    /// docs recommend the <c>query</c> response mode).
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFormPostCallbackFromAnotherSiteSignsInToANewSessionWithoutTheAnonymousData()
    {
        var (_, app) = await StartAsync(OpenIdConnectResponseMode.FormPost);
        using var browser = new TestBrowser(_certificate);
        var home = app.Address;
        var (anonymousCookie, anonymousId) = await ShopAnonymouslyAsync(browser, app);

        await SignInAsync(browser, home);

        Assert.Equal("(none)", await GetAsync(browser, home, "/cart"));
        Assert.NotEqual(anonymousId, await GetAsync(browser, home, "/id"));
        using var anonymous = new TestBrowser(_certificate);
        anonymous.PutCookie(home, app.CookieName, anonymousCookie);
        Assert.Equal("(anonymous)", await GetAsync(anonymous, home, "/whoami"));
        Assert.Equal("apple", await GetAsync(anonymous, home, "/cart"));
    }

    /// <summary>
    /// Starts a provider (on <paramref name="providerHost"/>) and the application over the store with the given
    /// response mode; both stop when the test ends.
    /// </summary>
    private async Task<(OpenIddictProvider Provider, OpenIdConnectTesseraApp App)> StartAsync(string responseMode, string providerHost = "localhost")
    {
        var provider = await OpenIddictProvider.StartAsync(_certificate, providerHost);
        _hosts.Add(provider);
        var app = await OpenIdConnectTesseraApp.StartAsync(Store, Clock, Key, provider, _certificate, responseMode, ConfigureServices);
        _hosts.Add(app);
        return (provider, app);
    }

    // Puts an apple in the cart of a new anonymous session: its cookie and id.
    private static async Task<(string Cookie, string Id)> ShopAnonymouslyAsync(TestBrowser browser, OpenIdConnectTesseraApp app)
    {
        Assert.Equal("ok", await PostAsync(browser, app.Address, "/cart/apple"));
        return (browser.Cookie(app.Address, app.CookieName)!, await GetAsync(browser, app.Address, "/id"));
    }

    private static async Task SignInAsync(TestBrowser browser, Uri home)
    {
        var (landed, response) = await browser.NavigateAsync(new Uri(home, "/login?returnUrl=%2Fwhoami"), initiator: home);
        using (response)
        {
            Assert.Equal(new Uri(home, "/whoami"), landed);
            Assert.Equal(OpenIddictProvider.Subject, await response.Content.ReadAsStringAsync());
        }
    }

    private static Task<string> GetAsync(TestBrowser browser, Uri home, string path) => BodyAsync(browser, home, path, form: null);

    // A POST from a page of the application itself (same origin).
    private static Task<string> PostAsync(TestBrowser browser, Uri home, string path) => BodyAsync(browser, home, path, form: []);

    private static async Task<string> BodyAsync(TestBrowser browser, Uri home, string path, IEnumerable<KeyValuePair<string, string>>? form)
    {
        var (_, response) = await browser.NavigateAsync(new Uri(home, path), form, initiator: home);
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }
    }

    private static async Task<HttpStatusCode> StatusAsync(TestBrowser browser, Uri home, string path)
    {
        var (_, response) = await browser.NavigateAsync(new Uri(home, path), initiator: home);
        using (response)
        {
            return response.StatusCode;
        }
    }

    // The handler's correlation and nonce cookies: set SameSite=None and Secure on the challenge, and cleared by the
    // callback (which the handler does only once it has read them back).
    private static void AssertHandlerCookiesWereSecureSameSiteNoneAndCameBack(TestBrowser browser, OpenIdConnectTesseraApp app)
    {
        var callback = new Uri(app.Address, "/signin-oidc");
        foreach (var prefix in new[] { ".AspNetCore.Correlation.", OpenIdConnectDefaults.CookieNoncePrefix })
        {
            var set = browser.SetCookies.Where(c => c.Url.Host == app.Address.Host && c.Header.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            Assert.Equal(2, set.Count);
            var (issued, cleared) = (set[0], set[1]);
            Assert.NotEqual(callback, issued.Url);
            Assert.Contains("; secure", issued.Header, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("; samesite=none", issued.Header, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(callback.GetLeftPart(UriPartial.Path), cleared.Url.GetLeftPart(UriPartial.Path));
            Assert.Contains("expires=Thu, 01 Jan 1970", cleared.Header, StringComparison.OrdinalIgnoreCase);
        }
    }
}
