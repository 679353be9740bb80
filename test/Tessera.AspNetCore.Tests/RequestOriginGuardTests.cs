using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// The request-origin guard on a real Kestrel server, driven by a real HTTP client that sends the headers a browser
/// would (<c>Sec-Fetch-Site</c>, <c>Origin</c>) in every combination that matters, with and without the session cookie.
/// </summary>
public sealed class RequestOriginGuardTests : IAsyncLifetime
{
    private const string Trusted = "https://admin.example.com";
    private const string Evil = "https://evil.example";

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly CountingSessionStore _store;
    private TesseraTestServer _server = null!;

    public RequestOriginGuardTests() => _store = new CountingSessionStore(new InMemorySessionStore(_clock));

    public async ValueTask InitializeAsync() => _server = await StartAsync(_store, _clock, origin => origin.TrustedOrigins.Add(Trusted));

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    // "{self}" stands for the server's own origin (http://127.0.0.1:port), "{sibling}" for another port of the same host.
    [Theory]
    [InlineData("cross-site", Evil, HttpStatusCode.Forbidden)]
    [InlineData("cross-site", null, HttpStatusCode.Forbidden)]
    [InlineData("same-site", "{sibling}", HttpStatusCode.Forbidden)]
    [InlineData("same-origin", "{self}", HttpStatusCode.OK)]
    [InlineData("none", null, HttpStatusCode.OK)]
    [InlineData("SAME-ORIGIN", "{self}", HttpStatusCode.OK)]
    [InlineData("something-new", null, HttpStatusCode.Forbidden)]
    [InlineData(null, "{self}", HttpStatusCode.OK)]
    [InlineData(null, Evil, HttpStatusCode.Forbidden)]
    [InlineData(null, "{sibling}", HttpStatusCode.Forbidden)]
    [InlineData(null, "null", HttpStatusCode.Forbidden)]
    [InlineData(null, Trusted, HttpStatusCode.OK)]
    [InlineData("cross-site", Trusted, HttpStatusCode.OK)]
    [InlineData("same-site", Trusted, HttpStatusCode.OK)]
    [InlineData(null, null, HttpStatusCode.OK)]
    public async Task APostCarryingTheSessionCookieIsJudgedByItsFetchMetadataThenItsOrigin(string? fetchSite, string? origin, HttpStatusCode expected)
    {
        var cookie = await SignedInCookieAsync(_server);

        using var response = await SendAsync(_server, HttpMethod.Post, "/set/a/changed", cookie, fetchSite, Resolve(_server, origin));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(expected == HttpStatusCode.OK ? "changed" : "before", await ReadAsync(_server, cookie, "a"));
    }

    [Fact]
    public async Task ARefusedRequestIsAProblemThatNeitherReadsNorWritesTheStoreNorSetsACookie()
    {
        var cookie = await SignedInCookieAsync(_server);
        _store.Reset();

        using var response = await SendAsync(_server, HttpMethod.Post, "/destroy", cookie, "cross-site", Evil);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Contains("\"reason\":\"cross_origin_request\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal(0, _store.Calls);
        // The destroy never ran: the session still answers.
        Assert.Equal("alice", await ReadWhoAmIAsync(_server, cookie));
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    [InlineData("OPTIONS")]
    public async Task ASafeMethodIsNeverRefused(string method)
    {
        var cookie = await SignedInCookieAsync(_server);

        using var response = await SendAsync(_server, new HttpMethod(method), "/safe", cookie, "cross-site", Evil);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    public async Task EveryOtherUnsafeMethodIsChecked(string method)
    {
        var cookie = await SignedInCookieAsync(_server);

        using var response = await SendAsync(_server, new HttpMethod(method), "/any-method", cookie, "cross-site", Evil);
        using var allowed = await SendAsync(_server, new HttpMethod(method), "/any-method", cookie, "same-origin", Resolve(_server, "{self}"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task ACrossSitePostWithoutTheSessionCookieIsNotChecked()
    {
        using var response = await SendAsync(_server, HttpMethod.Post, "/set/a/1", cookie: null, "cross-site", Evil);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ABearerRequestIsExemptEvenWhenTheBrowserAlsoSendsTheCookie()
    {
        var cookie = await SignedInCookieAsync(_server);
        var pair = await _server.Manager.Tokens.CreateAsync("bob");

        using var bearerOnly = await SendAsync(_server, HttpMethod.Post, "/set/t/1", cookie: null, "cross-site", Evil, bearer: pair.AccessToken);
        using var bearerAndCookie = await SendAsync(_server, HttpMethod.Post, "/set/t/2", cookie, "cross-site", Evil, bearer: pair.AccessToken);

        Assert.Equal(HttpStatusCode.OK, bearerOnly.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bearerAndCookie.StatusCode);
        // The token's session took both writes; the cookie's was not touched.
        using var tokenRead = await SendAsync(_server, HttpMethod.Get, "/read/t", cookie: null, fetchSite: null, origin: null, bearer: pair.AccessToken);
        Assert.Equal("2", await tokenRead.Content.ReadAsStringAsync());
        Assert.Equal("(none)", await ReadAsync(_server, cookie, "t"));
    }

    [Fact]
    public async Task AnEndpointMarkedDisableTesseraOriginCheckTakesACrossSitePostWithItsSession()
    {
        var cookie = await SignedInCookieAsync(_server);

        using var response = await SendAsync(_server, HttpMethod.Post, "/partner/a/changed", cookie, "cross-site", Evil);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("changed", await ReadAsync(_server, cookie, "a"));
    }

    [Theory]
    [InlineData("/no-session", HttpStatusCode.OK)]
    [InlineData("/hooks/github", HttpStatusCode.OK)]
    [InlineData("/HOOKS/github", HttpStatusCode.OK)]
    [InlineData("/hooksmith", HttpStatusCode.Forbidden)]
    public async Task EndpointsWithoutSessionsAndPathsUnderAnExemptPathAreNotChecked(string path, HttpStatusCode expected)
    {
        var cookie = await SignedInCookieAsync(_server);

        using var response = await SendAsync(_server, HttpMethod.Post, path, cookie, "cross-site", Evil);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task TurnedOffGloballyTheGuardLetsACrossSitePostThrough()
    {
        await using var server = await StartAsync(new InMemorySessionStore(_clock), _clock, origin => origin.Enabled = false);
        var cookie = await SignedInCookieAsync(server);

        using var response = await SendAsync(server, HttpMethod.Post, "/set/a/changed", cookie, "cross-site", Evil);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("changed", await ReadAsync(server, cookie, "a"));
    }

    [Fact]
    public async Task WithAllowSameSiteASiblingOriginPassesButAnotherSiteDoesNot()
    {
        await using var server = await StartAsync(new InMemorySessionStore(_clock), _clock, origin => origin.AllowSameSite = true);
        var cookie = await SignedInCookieAsync(server);

        using var sibling = await SendAsync(server, HttpMethod.Post, "/set/a/sibling", cookie, "same-site", Resolve(server, "{sibling}"));
        using var crossSite = await SendAsync(server, HttpMethod.Post, "/set/a/evil", cookie, "cross-site", Evil);

        Assert.Equal(HttpStatusCode.OK, sibling.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, crossSite.StatusCode);
        Assert.Equal("sibling", await ReadAsync(server, cookie, "a"));
    }

    [Fact]
    public async Task ATrustedOriginIsComparedInItsCanonicalForm()
    {
        await using var server = await StartAsync(new InMemorySessionStore(_clock), _clock, origin => origin.TrustedOrigins.Add("HTTPS://Admin.Example.COM:443"));
        var cookie = await SignedInCookieAsync(server);

        using var response = await SendAsync(server, HttpMethod.Post, "/set/a/changed", cookie, "cross-site", "https://admin.example.com");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task TheOriginIsComparedWithTheHostTheAppSeesAfterForwardedHeaders()
    {
        await using var server = await StartAsync(new InMemorySessionStore(_clock), _clock, configure: null, services => services.AddTransient<IStartupFilter, ForwardedHeadersFirst>());
        var cookie = await SignedInCookieAsync(server);
        var forwarded = new Dictionary<string, string> { ["X-Forwarded-Host"] = "app.example.com", ["X-Forwarded-Proto"] = "https" };

        using var publicOrigin = await SendAsync(server, HttpMethod.Post, "/set/a/proxied", cookie, fetchSite: null, "https://app.example.com", extra: forwarded);
        using var backendOrigin = await SendAsync(server, HttpMethod.Post, "/set/a/backend", cookie, fetchSite: null, Resolve(server, "{self}"), extra: forwarded);

        Assert.Equal(HttpStatusCode.OK, publicOrigin.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, backendOrigin.StatusCode);
        Assert.Equal("proxied", await ReadAsync(server, cookie, "a"));
    }

    [Fact]
    public async Task AnIdentityProvidersFormPostToARemoteHandlersCallbackIsExempt()
    {
        await using var server = await StartAsync(new InMemorySessionStore(_clock), _clock, configure: null, services =>
            services.AddAuthentication().AddRemoteScheme<RemoteAuthenticationOptions, FormPostHandler>("idp", "IdP", o => o.CallbackPath = "/signin-idp"), authentication: true);
        var cookie = await SignedInCookieAsync(server);

        using var callback = await SendAsync(server, HttpMethod.Post, "/signin-idp", cookie, "cross-site", "https://idp.example");
        using var elsewhere = await SendAsync(server, HttpMethod.Post, "/set/a/changed", cookie, "cross-site", "https://idp.example");

        Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
        Assert.Equal("callback handled", await callback.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, elsewhere.StatusCode);
        Assert.Equal("yes", await ReadAsync(server, cookie, "idp"));
    }

    [Fact]
    public async Task WithoutARemoteHandlerTheSamePathIsNotExempt()
    {
        var cookie = await SignedInCookieAsync(_server);

        using var response = await SendAsync(_server, HttpMethod.Post, "/signin-idp", cookie, "cross-site", "https://idp.example");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task ARefusalIsLoggedOnceWithoutTheCookieAndCountedByReason()
    {
        using var metrics = new TesseraMetricCollector(_server.Services.GetRequiredService<IMeterFactory>());
        var cookie = await SignedInCookieAsync(_server);

        using var crossSite = await SendAsync(_server, HttpMethod.Post, "/set/a/1", cookie, "cross-site", Evil);
        using var mismatch = await SendAsync(_server, HttpMethod.Post, "/set/a/2", cookie, fetchSite: null, "https://evil.example\u001b[31m");

        var lines = _server.Logs.GetSnapshot().Where(e => e.Id.Id == 2401).ToList();
        Assert.Equal(2, lines.Count);
        Assert.All(lines, line => Assert.Equal(LogLevel.Warning, line.Level));
        Assert.Contains("POST /set/a/1", lines[0].Message, StringComparison.Ordinal);
        Assert.Contains("cross_site", lines[0].Message, StringComparison.Ordinal);
        Assert.Contains("Origin: https://evil.example?[31m", lines[1].Message, StringComparison.Ordinal);
        Assert.DoesNotContain(cookie, _server.Logs.AllText(), StringComparison.Ordinal);
        Assert.Equal(1, metrics.Sum(TesseraMetrics.CrossOriginRequestsRefused, ("reason", "cross_site")));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.CrossOriginRequestsRefused, ("reason", "origin_mismatch")));
    }

    [Theory]
    [InlineData("https://app.example.com/", "no path")]
    [InlineData("app.example.com", "no scheme")]
    [InlineData("https://*.example.com", "wildcard")]
    [InlineData("https://user@app.example.com", "user information")]
    [InlineData("null", "no scheme")]
    [InlineData("", "empty")]
    public async Task ABadTrustedOriginFailsAtStartNamingIt(string origin, string problem)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new InMemorySessionStore(_clock), _clock, o => o.TrustedOrigins.Add(origin)));

        Assert.Contains($"TrustedOrigins entry '{origin}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnExemptPathWithoutALeadingSlashFailsAtStart()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new InMemorySessionStore(_clock), _clock, o => o.ExemptPaths.Add("hooks")));

        Assert.Contains("ExemptPaths entry 'hooks'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheGuardIsBoundFromTheRequestOriginConfigurationSection()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tessera:RequestOrigin:Enabled"] = "false",
            ["Tessera:RequestOrigin:AllowSameSite"] = "true",
            ["Tessera:RequestOrigin:TrustedOrigins:0"] = Trusted,
            ["Tessera:RequestOrigin:ExemptPaths:0"] = "/hooks",
        });
        builder.Services.AddTessera(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key()));
        await using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<TesseraRequestOriginOptions>>().Value;

        Assert.False(options.Enabled);
        Assert.True(options.AllowSameSite);
        Assert.Equal([Trusted], options.TrustedOrigins);
        Assert.Equal(["/hooks"], options.ExemptPaths);
    }

    [Fact]
    public async Task TheDefaultsAreOnWithSameSiteRefusedAndNothingTrusted()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Services.AddTessera(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key()));
        await using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<TesseraRequestOriginOptions>>().Value;

        Assert.True(options.Enabled);
        Assert.False(options.AllowSameSite);
        Assert.Empty(options.TrustedOrigins);
        Assert.Empty(options.ExemptPaths);
    }

    private static Task<TesseraTestServer> StartAsync(
        ISessionStore store,
        TimeProvider clock,
        Action<TesseraRequestOriginOptions>? configure,
        Action<IServiceCollection>? configureServices = null,
        bool authentication = false) =>
        TesseraTestServer.StartAsync(store, clock, [SigningKeyRing.GenerateBase64Key()], bearerTokens: true, authentication: authentication,
            configureServices: services =>
            {
                services.Configure<TesseraRequestOriginOptions>(o =>
                {
                    o.ExemptPaths.Add("/hooks");
                    configure?.Invoke(o);
                });
                configureServices?.Invoke(services);
            },
            mapExtraRoutes: app =>
            {
                app.MapPost("/partner/{key}/{value}", (HttpSession session, string key, string value) =>
                {
                    session.Set(key, value);
                    return "ok";
                }).DisableTesseraOriginCheck();
                app.MapPost("/no-session", () => "ok").DisableSession();
                app.MapMethods("/safe", ["GET", "HEAD", "OPTIONS"], (HttpSession session) => session.Subject ?? "(anonymous)");
                app.MapPost("/hooks/github", (HttpSession session) => session.Subject ?? "(anonymous)");
                app.MapPost("/hooksmith", (HttpSession session) => session.Subject ?? "(anonymous)");
                app.MapMethods("/any-method", ["PUT", "PATCH", "DELETE"], (HttpSession session) =>
                {
                    session.Set("method", "seen");
                    return "ok";
                });
            });

    private static async Task<string> SignedInCookieAsync(TesseraTestServer server)
    {
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        await client.PostAsync("/set/a/before");
        return client.Cookie!;
    }

    private static async Task<string> ReadAsync(TesseraTestServer server, string cookie, string key)
    {
        using var response = await SendAsync(server, HttpMethod.Get, "/read/" + key, cookie, fetchSite: null, origin: null);
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task<string> ReadWhoAmIAsync(TesseraTestServer server, string cookie)
    {
        using var response = await SendAsync(server, HttpMethod.Get, "/whoami", cookie, fetchSite: null, origin: null);
        return await response.Content.ReadAsStringAsync();
    }

    private static string? Resolve(TesseraTestServer server, string? origin) => origin switch
    {
        "{self}" => $"http://127.0.0.1:{server.Address.Port}",
        "{sibling}" => $"http://127.0.0.1:{server.Address.Port + 1}",
        _ => origin,
    };

    private static async Task<HttpResponseMessage> SendAsync(
        TesseraTestServer server,
        HttpMethod method,
        string path,
        string? cookie,
        string? fetchSite,
        string? origin,
        string? bearer = null,
        IReadOnlyDictionary<string, string>? extra = null)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = server.Address };
        using var request = new HttpRequestMessage(method, path);
        if (method != HttpMethod.Get && method != HttpMethod.Head && method != HttpMethod.Options)
        {
            request.Content = new ByteArrayContent([]);
        }
        if (cookie is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", $"{server.CookieName}={cookie}");
        }
        if (fetchSite is not null)
        {
            request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", fetchSite);
        }
        if (origin is not null)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }
        if (bearer is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + bearer);
        }
        foreach (var (name, value) in extra ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>What a reverse proxy's host needs: forwarded headers applied before anything else, Tessera included.</summary>
    private sealed class ForwardedHeadersFirst : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            // Loopback proxies are trusted by default, and the test client connects over loopback.
            app.UseForwardedHeaders(new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedHost | ForwardedHeaders.XForwardedProto });
            next(app);
        };
    }

    /// <summary>
    /// A remote authentication handler whose callback takes an identity provider's form post (as OpenID Connect's
    /// <c>form_post</c> does) and records it in the session, so the test sees the callback ran with its session.
    /// </summary>
    private sealed class FormPostHandler(IOptionsMonitor<RemoteAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : RemoteAuthenticationHandler<RemoteAuthenticationOptions>(options, logger, encoder)
    {
        protected override async Task<HandleRequestResult> HandleRemoteAuthenticateAsync()
        {
            var session = await Context.GetTesseraSessionAsync();
            session.Set("idp", "yes");
            await Response.WriteAsync("callback handled", Context.RequestAborted);
            return HandleRequestResult.Handle();
        }
    }
}
