using Microsoft.Extensions.Logging.Testing;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The HTTP conformance suite, the part every store must pass, including one that keeps sessions in the client (the
/// cookie store): a real Kestrel server and a real HTTP client over your store. Inherit it, implement
/// <see cref="HttpConformanceTestBase{TKit}.CreateStore"/>, and the cookie-session behaviour users rely on is tested against your store.
/// </summary>
/// <remarks>
/// What needs state on the server is in the derived suites, and a store declares that it has it by inheriting them:
/// <see cref="RevocableSessionHttpConformanceTests{TKit}"/> (an old cookie dies everywhere after sign-in, regenerate, destroy or
/// revoke by id) and <see cref="ServerSideSessionHttpConformanceTests{TKit}"/> (that, plus concurrent writers keeping every key
/// and listing and revoking a subject's sessions). A server-side store inherits the last one.
/// </remarks>
public abstract class SessionHttpConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{

    /// <summary>Starts a server over <see cref="HttpConformanceTestBase{TKit}.Store"/>; it is stopped when the test ends.</summary>
    /// <param name="keys">Signing keys, or <see langword="null"/> for <see cref="HttpConformanceTestBase{TKit}.Key"/>.</param>
    /// <param name="environment">The host environment. Default <c>Production</c>.</param>
    /// <param name="bearerTokens">Whether bearer-token sessions are on too (the store must implement <see cref="Tokens.ISessionTokenStore"/>).</param>
    /// <returns>The server.</returns>
    protected Task<TesseraTestServer> StartServerAsync(IEnumerable<string>? keys = null, string environment = "Production", bool bearerTokens = false) =>
        StartTestServerAsync(keys, environment, bearerTokens);

    /// <summary>A request that never touches its session makes no store call and sets no cookie.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ARequestThatNeverTouchesTheSessionSetsNoCookieAndCallsNoStore()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        Store.Reset();

        using var response = await client.SendAsync(HttpMethod.Get, "/plain");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.Equal(0, Store.Reads);
        Assert.Equal(0, Store.Writes);
    }

    /// <summary>1,000 cookieless requests that read but never write leave nothing stored and set no cookie.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AThousandCookielessRequestsThatNeverWriteLeaveNoSessions()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        for (var i = 0; i < 1000; i++)
        {
            client.Cookie = null;
            using var response = await client.SendAsync(HttpMethod.Get, "/read/cart");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }

        Assert.Equal(0, Store.Writes);
        Assert.Equal(0, Store.Reads);
        if (Store.Inner is ISessionStoreCounter counter)
        {
            Assert.Equal(0, await counter.CountAsync());
        }
    }

    /// <summary>Writing creates the session, sets a no-store cookie, and the next request reads the value.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task WritingCreatesASessionWhoseCookieReadsItBack()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();

        using (var response = await client.SendAsync(HttpMethod.Post, "/set/cart/apple", new ByteArrayContent([])))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.NotNull(client.Cookie);
            Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? string.Empty, StringComparison.Ordinal);
        }

        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
        Assert.Equal("(none)", await client.GetStringAsync("/read/other"));
    }

    /// <summary>Reads of a live session within the touch interval make no store writes and set no cookie.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AReadOnlyRequestOnALiveSessionMakesNoStoreWrites()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        Store.Reset();

        for (var i = 0; i < 10; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(5));
            using var response = await client.SendAsync(HttpMethod.Get, "/read/a");
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }

        Assert.Equal(0, Store.Writes);
        Assert.Equal(10, Store.Reads);
    }

    /// <summary>After the touch interval one read extends the idle deadline with exactly one write.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AReadAfterTheTouchIntervalWritesOnceAndKeepsTheSessionAlive()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        Store.Reset();

        // Twenty minutes of a read every 10 minutes carries the session past its 30-minute idle timeout.
        for (var i = 0; i < 5; i++)
        {
            Clock.Advance(TimeSpan.FromMinutes(10));
            Assert.Equal("1", await client.GetStringAsync("/read/a"));
        }

        Assert.Equal(5, Store.Writes);
    }

    /// <summary>Malformed cookies of every kind mean "no session": anonymous, never a 500, a warning without the value.</summary>
    /// <param name="kind">Which malformation.</param>
    /// <returns>A task.</returns>
    [Theory]
    [InlineData("flipped")]
    [InlineData("unknown-key")]
    [InlineData("empty")]
    [InlineData("10kb")]
    [InlineData("not-base64")]
    [InlineData("truncated")]
    [InlineData("non-ascii")]
    public async Task AMalformedCookieIsTreatedAsNoSession(string kind)
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        var valid = client.Cookie!;
        var bad = kind switch
        {
            "flipped" => Flip(valid, 20),
            "unknown-key" => new CookieCredential(SigningKeyRing.FromBase64([SigningKeyRing.GenerateBase64Key()])).Issue(SessionRoute.Of(Guid.NewGuid().ToString("D"))).Value,
            "empty" => string.Empty,
            "10kb" => new string('A', 10 * 1024),
            "not-base64" => new string('*', 43) + "." + new string('!', 43),
            "truncated" => valid[..^1],
            "non-ascii" => "%C3%A9" + valid[6..],
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        using var response = await client.SendAsync(HttpMethod.Get, "/whoami", cookieHeader: $"{client.CookieName}={bad}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("(anonymous)", await response.Content.ReadAsStringAsync());
        if (bad.Length > 0)
        {
            Assert.Contains(server.Logs.GetSnapshot(), e => e.Id.Id == 1001 && e.Level == LogLevel.Warning);
            Assert.DoesNotContain(bad, server.Logs.AllText(), StringComparison.Ordinal);
        }
        Assert.DoesNotContain(valid, server.Logs.AllText(), StringComparison.Ordinal);
    }

    /// <summary>Signing in changes the cookie and keeps the anonymous data.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task SigningInChangesTheCookieAndKeepsTheAnonymousData()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/cart/apple");
        var before = client.Cookie;

        await client.PostAsync("/signin/alice");

        Assert.NotNull(client.Cookie);
        Assert.NotEqual(before, client.Cookie);
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
    }

    /// <summary>Regenerate changes the cookie and keeps the id and data.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RegenerateChangesTheCookieAndKeepsTheIdAndData()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        var before = client.Cookie;
        var id = await client.GetStringAsync("/id");

        await client.PostAsync("/regenerate");

        Assert.NotNull(client.Cookie);
        Assert.NotEqual(before, client.Cookie);
        Assert.Equal(id, await client.GetStringAsync("/id"));
        Assert.Equal("1", await client.GetStringAsync("/read/a"));
    }

    /// <summary>Destroy clears the cookie (and every companion cookie) and leaves the browser anonymous.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task DestroyClearsTheCookieAndTheBrowserIsAnonymous()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        await client.PostAsync("/set/a/1");

        await client.PostAsync("/destroy");

        Assert.NotNull(client.LastSetCookie);
        Assert.Contains("expires=Thu, 01 Jan 1970", client.LastSetCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Null(client.Cookie);
        Assert.Empty(client.Companions);
        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
        Assert.Equal("(none)", await client.GetStringAsync("/read/a"));
    }

    /// <summary>A flash is read once, on a later request.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFlashIsReadOnce()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();

        await client.PostAsync("/flash/hello");

        Assert.Equal("hello", await client.GetStringAsync("/flash"));
        Assert.Equal("(none)", await client.GetStringAsync("/flash"));
    }

    /// <summary>A session idle for longer than the idle timeout is gone.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ASessionIdleLongerThanTheIdleTimeoutExpires()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");

        Clock.Advance(TesseraDefaults.IdleTimeout - TimeSpan.FromSeconds(1));
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        Clock.Advance(TesseraDefaults.IdleTimeout + TimeSpan.FromSeconds(1));

        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
    }

    /// <summary>A session in constant use still ends at its absolute lifetime.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ASessionInConstantUseEndsAtItsAbsoluteLifetime()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        var step = TimeSpan.FromMinutes(20);
        var elapsed = TimeSpan.Zero;

        while (elapsed + step < TesseraDefaults.AbsoluteLifetime)
        {
            Clock.Advance(step);
            elapsed += step;
            Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        }
        Clock.Advance(step);

        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
    }

    /// <summary>An endpoint with sessions disabled neither reads nor writes the session.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AnEndpointWithSessionsDisabledHasNoSession()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        Store.Reset();

        using var response = await client.SendAsync(HttpMethod.Get, "/disabled");

        Assert.Equal("disabled", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.Equal(0, Store.Reads + Store.Writes);
    }

    /// <summary>A key moved out of signing still verifies its cookies; once removed, they are rejected.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ARotatedKeyStillVerifiesAndARemovedKeyRejects()
    {
        var oldKey = Key;
        var newKey = SigningKeyRing.GenerateBase64Key();
        var before = await StartServerAsync([oldKey]);
        using var client = before.CreateClient();
        await client.PostAsync("/signin/alice");
        var oldCookies = client.SaveCookies();

        var rotated = await StartServerAsync([newKey, oldKey]);
        using (var viaRotated = rotated.CreateClient())
        {
            viaRotated.RestoreCookies(oldCookies);
            Assert.Equal("alice", await viaRotated.GetStringAsync("/whoami"));
        }

        var removed = await StartServerAsync([newKey]);
        using var viaRemoved = removed.CreateClient();
        viaRemoved.RestoreCookies(oldCookies);
        Assert.Equal("(anonymous)", await viaRemoved.GetStringAsync("/whoami"));
    }

    /// <summary>A value that no longer reads as the requested type gives the default and a warning; other keys still read.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AValueOfAnOldShapeReadsAsTheDefaultAndOtherKeysStayReadable()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/count/not-a-number");
        await client.PostAsync("/set/name/alice");

        using var response = await client.SendAsync(HttpMethod.Get, "/read-int/count");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("0", await response.Content.ReadAsStringAsync());
        Assert.Equal("alice", await client.GetStringAsync("/read/name"));
        var warning = Assert.Single(server.Logs.GetSnapshot(), e => e.Id.Id == 1002);
        Assert.Contains("count", warning.Message, StringComparison.Ordinal);
        // The request line names the value (it is in this test route's URL); Tessera's own log lines must not.
        Assert.DoesNotContain(server.Logs.GetSnapshot(), e => e.Category?.StartsWith("Tessera", StringComparison.Ordinal) == true && e.Message.Contains("not-a-number", StringComparison.Ordinal));
    }

    /// <summary>A handler that throws commits nothing.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AHandlerThatThrowsCommitsNothing()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        Store.Reset();

        using var response = await client.SendAsync(HttpMethod.Post, "/throw/b", new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(0, Store.Writes);
        Assert.Equal("(none)", await client.GetStringAsync("/read/b"));
    }

    /// <summary>Outside Development the cookie is __Host- prefixed, Secure, HttpOnly, SameSite=Lax, path /.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task OutsideDevelopmentTheCookieIsHostPrefixedSecureHttpOnlyAndLax()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();

        await client.PostAsync("/set/a/1");

        Assert.Equal("__Host-tessera", client.CookieName);
        var header = client.LastSetCookie!.ToLowerInvariant();
        Assert.Contains("; secure", header, StringComparison.Ordinal);
        Assert.Contains("; httponly", header, StringComparison.Ordinal);
        Assert.Contains("; samesite=lax", header, StringComparison.Ordinal);
        Assert.Contains("; path=/", header, StringComparison.Ordinal);
        Assert.DoesNotContain("domain=", header, StringComparison.Ordinal);
        Assert.DoesNotContain("expires=", header, StringComparison.Ordinal);
    }

    /// <summary>In Development over plain http the cookie works without Secure, under a name without the prefix.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task InDevelopmentOverHttpTheCookieIsNotSecure()
    {
        var server = await StartServerAsync(environment: "Development");
        using var client = server.CreateClient();

        await client.PostAsync("/set/a/1");

        Assert.Equal("tessera", client.CookieName);
        var header = client.LastSetCookie!.ToLowerInvariant();
        Assert.DoesNotContain("; secure", header, StringComparison.Ordinal);
        Assert.Contains("; httponly", header, StringComparison.Ordinal);
        Assert.Equal("1", await client.GetStringAsync("/read/a"));
    }

    private static string Flip(string value, int index)
    {
        var chars = value.ToCharArray();
        chars[index] = chars[index] == 'A' ? 'B' : 'A';
        return new string(chars);
    }

    /// <summary>A random 32-byte value, for tests that need a hash nobody issued.</summary>
    /// <returns>The bytes.</returns>
    protected static byte[] RandomHash() => RandomNumberGenerator.GetBytes(32);

}
