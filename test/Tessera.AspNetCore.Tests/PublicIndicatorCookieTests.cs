using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// The public indicator cookie (<see cref="TesseraCookieOptions.PublicIndicator"/>) over HTTP: off by default; when on,
/// set with the credential, set again when the idle deadline moves, cleared with the credential, readable by script,
/// with the session cookie's other attributes, and never holding the credential or the session id.
/// </summary>
public sealed partial class PublicIndicatorCookieTests : HttpConformanceTestBase<InMemoryStoreKit>
{
    private const string SessionCookie = "__Host-tessera";
    private const string Indicator = "__Host-tessera.state";

    [Fact]
    public async Task ThereIsNoIndicatorUnlessAskedFor()
    {
        var server = await StartTestServerAsync(Store, null, MapRevokeDuringRequest);
        using var browser = new CookieJarClient(server.Address);

        var names = new HashSet<string>(StringComparer.Ordinal);

        await CallOkAsync(browser, HttpMethod.Post, "/signin/alice");
        names.UnionWith(SetCookieNames(browser));
        Clock.Advance(TimeSpan.FromMinutes(5));
        await CallOkAsync(browser, HttpMethod.Get, "/whoami"); // a touch
        names.UnionWith(SetCookieNames(browser));
        await CallOkAsync(browser, HttpMethod.Post, "/destroy");
        names.UnionWith(SetCookieNames(browser));

        Assert.Equal([SessionCookie], names);
        Assert.Null(server.Services.GetRequiredService<CookieSessionTransport>().PublicIndicatorName);
    }

    [Fact]
    public async Task TheIndicatorIsSetWithTheCredentialReadableByScriptWithTheSessionCookiesAttributes()
    {
        var server = await StartWithIndicatorAsync();
        using var browser = new CookieJarClient(server.Address);
        var now = Clock.GetUtcNow();

        await CallOkAsync(browser, HttpMethod.Post, "/set/a/1");

        var header = browser.LastSetCookie(Indicator) ?? throw new Xunit.Sdk.XunitException("no indicator cookie was set");
        // An anonymous session: its idle deadline follows the shorter anonymous idle timeout.
        Assert.Equal(Expected(now + TesseraDefaults.AnonymousIdleTimeout, now + TimeSpan.FromHours(8)), browser.Cookies[Indicator]);
        var attributes = Attributes(header);
        Assert.DoesNotContain("httponly", attributes);
        Assert.Contains("secure", attributes);
        Assert.Contains("samesite=lax", attributes);
        Assert.Contains("path=/", attributes);
        Assert.DoesNotContain(attributes, a => a.StartsWith("domain", StringComparison.Ordinal) || a.StartsWith("expires", StringComparison.Ordinal) || a.StartsWith("max-age", StringComparison.Ordinal));
        Assert.Contains("httponly", Attributes(browser.LastSetCookie(SessionCookie)!));
    }

    [Fact]
    public async Task TheIndicatorMovesWithTheIdleDeadlineAndKeepsTheAbsoluteOne()
    {
        var server = await StartWithIndicatorAsync();
        using var browser = new CookieJarClient(server.Address);
        var created = Clock.GetUtcNow();
        await CallOkAsync(browser, HttpMethod.Post, "/signin/alice");
        var absolute = created + TimeSpan.FromHours(8);

        Clock.Advance(TimeSpan.FromSeconds(30));
        await CallOkAsync(browser, HttpMethod.Get, "/whoami"); // within the touch interval: nothing moves, nothing is sent
        Assert.Empty(browser.LastSetCookies);

        Clock.Advance(TimeSpan.FromMinutes(2));
        await CallOkAsync(browser, HttpMethod.Get, "/whoami"); // a touch: the idle deadline moves, the credential stays
        Assert.Null(browser.LastSetCookie(SessionCookie));
        Assert.Equal(Expected(Clock.GetUtcNow() + TimeSpan.FromMinutes(30), absolute), browser.Cookies[Indicator]);

        var touched = Clock.GetUtcNow();
        Clock.Advance(TimeSpan.FromSeconds(10));
        await CallOkAsync(browser, HttpMethod.Post, "/set/b/2"); // a write within the touch interval moves nothing either
        Assert.Null(browser.LastSetCookie(Indicator));
        Assert.Equal(Expected(touched + TimeSpan.FromMinutes(30), absolute), browser.Cookies[Indicator]);

        Clock.Advance(TimeSpan.FromMinutes(1));
        await CallOkAsync(browser, HttpMethod.Post, "/set/b/3"); // a write after it moves it, as a touch would
        Assert.Equal(Expected(Clock.GetUtcNow() + TimeSpan.FromMinutes(30), absolute), browser.Cookies[Indicator]);

        // A request every 25 minutes keeps the session alive; within 30 minutes of its end, the idle deadline stops at the
        // absolute one.
        while (Clock.GetUtcNow() + TimeSpan.FromMinutes(30) < absolute)
        {
            Clock.Advance(TimeSpan.FromMinutes(25));
            await CallOkAsync(browser, HttpMethod.Get, "/whoami");
        }
        Assert.Equal(Expected(absolute, absolute), browser.Cookies[Indicator]);
    }

    [Fact]
    public async Task TheIndicatorIsClearedWhenTheCredentialIsCleared()
    {
        var server = await StartWithIndicatorAsync();
        using var browser = new CookieJarClient(server.Address);

        await CallOkAsync(browser, HttpMethod.Post, "/signin/alice");
        await CallOkAsync(browser, HttpMethod.Post, "/destroy"); // sign-out
        AssertCleared(browser);

        await CallOkAsync(browser, HttpMethod.Post, "/set/a/1");
        Assert.True(browser.Cookies.ContainsKey(Indicator));
        await CallOkAsync(browser, HttpMethod.Post, "/revoke-during-request"); // revoked elsewhere while the request ran
        AssertCleared(browser);
    }

    [Fact]
    public async Task TheIndicatorNeverHoldsTheCredentialOrTheSessionId()
    {
        var server = await StartWithIndicatorAsync();
        using var browser = new CookieJarClient(server.Address);
        var seen = new List<(string Indicator, string Credential, string SessionId)>();

        async Task StepAsync(HttpMethod method, string path)
        {
            await CallOkAsync(browser, method, path);
            var id = (await browser.CallAsync(HttpMethod.Get, "/id")).Body;
            seen.Add((browser.Cookies[Indicator], browser.Cookies[SessionCookie], id));
        }

        await StepAsync(HttpMethod.Post, "/set/a/1");
        await StepAsync(HttpMethod.Post, "/signin/alice");
        await StepAsync(HttpMethod.Post, "/regenerate");
        Clock.Advance(TimeSpan.FromMinutes(3));
        await StepAsync(HttpMethod.Get, "/whoami");

        Assert.Equal(4, seen.Count);
        foreach (var (indicator, credential, sessionId) in seen)
        {
            Assert.Matches(IndicatorValue(), indicator);
            Assert.DoesNotContain(credential, indicator, StringComparison.Ordinal);
            Assert.DoesNotContain(indicator, credential, StringComparison.Ordinal);
            Assert.DoesNotContain(sessionId, indicator, StringComparison.Ordinal);
            Assert.DoesNotContain(indicator, sessionId, StringComparison.Ordinal);
        }
        Assert.Equal(3, seen.Select(s => s.Credential).Distinct().Count()); // the steps did issue new credentials
    }

    [Fact]
    public async Task APersistentSessionCookiesIndicatorExpiresWithIt()
    {
        var server = await StartWithIndicatorAsync(o => o.Persistent = true);
        using var browser = new CookieJarClient(server.Address);

        await CallOkAsync(browser, HttpMethod.Post, "/set/a/1");

        var expires = Attributes(browser.LastSetCookie(SessionCookie)!).Single(a => a.StartsWith("expires=", StringComparison.Ordinal));
        Assert.Contains(expires, Attributes(browser.LastSetCookie(Indicator)!));
    }

    [Fact]
    public async Task ACustomIndicatorNameIsUsed()
    {
        var server = await StartWithIndicatorAsync(o => o.PublicIndicatorName = "__Host-signed-in");
        using var browser = new CookieJarClient(server.Address);

        await CallOkAsync(browser, HttpMethod.Post, "/set/a/1");

        Assert.Matches(IndicatorValue(), browser.Cookies["__Host-signed-in"]);
        Assert.False(browser.Cookies.ContainsKey(Indicator));
    }

    [Theory]
    [InlineData("__Host-tessera", CookieSecurePolicy.Always, "__Host-tessera", "PublicIndicatorName must differ from the session cookie")]
    [InlineData("tessera", CookieSecurePolicy.SameAsRequest, "__Host-state", "'__Host-' cookie must be Secure: set SecurePolicy to Always or choose another PublicIndicatorName")]
    [InlineData("__Host-tessera", CookieSecurePolicy.Always, "has space", "PublicIndicatorName must be a non-empty cookie token")]
    [InlineData("__Host-tessera", CookieSecurePolicy.Always, "__Host-tessera.0", "must not be the session cookie's name, a dot and digits")]
    public void ABadIndicatorNameFailsValidation(string name, CookieSecurePolicy policy, string indicatorName, string message)
    {
        var services = new ServiceCollection().AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddTessera(o => o.Keys.Add(Key)).ConfigureCookie(c =>
        {
            c.Name = name;
            c.SecurePolicy = policy;
            c.PublicIndicator = true;
            c.PublicIndicatorName = indicatorName;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TesseraCookieOptions>>().Value);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private Task<TesseraTestServer> StartWithIndicatorAsync(Action<TesseraCookieOptions>? configure = null) =>
        StartTestServerAsync(Store, null, app =>
        {
            var options = app.Services.GetRequiredService<IOptions<TesseraCookieOptions>>().Value;
            options.PublicIndicator = true;
            configure?.Invoke(options);
            MapRevokeDuringRequest(app);
        });

    // POST /revoke-during-request: the session is revoked (as from another device) while the request writes to it.
    internal static void MapRevokeDuringRequest(WebApplication app) =>
        app.MapPost("/revoke-during-request", async (HttpSession session, SessionManager manager, CancellationToken cancellationToken) =>
        {
            Assert.True(await manager.RevokeAsync(session.Id, cancellationToken));
            session.Set("late", "write");
            return "ok";
        });

    private static async Task CallOkAsync(CookieJarClient browser, HttpMethod method, string path)
    {
        var (status, body) = await browser.CallAsync(method, path);
        Assert.True(status == HttpStatusCode.OK, $"{path}: {status} {body}");
    }

    private static void AssertCleared(CookieJarClient browser)
    {
        foreach (var name in new[] { SessionCookie, Indicator })
        {
            var header = browser.LastSetCookie(name) ?? throw new Xunit.Sdk.XunitException($"{name} was not cleared");
            Assert.Contains("expires=thu, 01 jan 1970 00:00:00 gmt", Attributes(header));
            Assert.Contains("secure", Attributes(header));
            Assert.Contains("path=/", Attributes(header));
            Assert.False(browser.Cookies.ContainsKey(name));
        }
        Assert.DoesNotContain("httponly", Attributes(browser.LastSetCookie(Indicator)!));
    }

    private static IEnumerable<string> SetCookieNames(CookieJarClient browser) =>
        browser.LastSetCookies.Select(h => h.Split('=', 2)[0]);

    private static string[] Attributes(string header) =>
        [.. header.Split(';').Skip(1).Select(a => a.Trim().ToLowerInvariant())];

    private static string Expected(DateTimeOffset idle, DateTimeOffset absolute) =>
        FormattableString.Invariant($"{idle.ToUnixTimeSeconds()}.{absolute.ToUnixTimeSeconds()}");

    [GeneratedRegex(@"^\d{10}\.\d{10}$")]
    private static partial Regex IndicatorValue();
}
