using Microsoft.Extensions.Logging.Testing;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tessera.AspNetCore;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The failure contract, over real HTTP with the store under test behind a fault injector
/// (<see cref="FaultyTokenSessionStore"/>): a load that fails or outlasts <see cref="TesseraOptions.StoreTimeout"/> leaves
/// the request without a session and never grants access; a commit that fails or times out is answered with 503 and
/// <c>Retry-After</c>, and the stored session stays exactly as it was; when the store comes back, the application works
/// again by itself, with the credentials clients already hold. Timeouts run on the fake clock.
/// </summary>
/// <remarks>The store must implement <see cref="Tokens.ISessionTokenStore"/> and <see cref="ISubjectSessionIndex"/> (every built-in store does).</remarks>
public abstract class StoreFailureConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>The store implements the optional interfaces this suite needs; when it does not, this test names them.</summary>
    [Fact]
    public void TheStoreImplementsWhatThisSuiteNeeds() =>
        StoreCapabilities.AssertImplements(Store, nameof(StoreFailureConformanceTests<TKit>), typeof(Tokens.ISessionTokenStore), typeof(ISubjectSessionIndex));

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>The fault injector in front of <see cref="HttpConformanceTestBase{TKit}.Store"/>; the servers use it.</summary>
    protected FaultyTokenSessionStore Faults { get; private set; } = null!;

    /// <inheritdoc />
    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        Faults = new FaultyTokenSessionStore(Store);
    }

    /// <summary>Releases calls still hung, then stops the servers.</summary>
    /// <returns>A task.</returns>
    public override async ValueTask DisposeAsync()
    {
        Faults.Heal();
        await base.DisposeAsync();
    }

    /// <summary>A load that throws: no session, no Set-Cookie; once the store is back, the same cookie finds its session.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFailingLoadLeavesTheRequestWithoutASessionAndTheCookieAlone()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        await client.PostAsync("/set/cart/apple");
        var cookie = client.Cookie;
        Faults.Failure = Unreachable;

        using (var response = await client.SendAsync(HttpMethod.Get, "/whoami"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("(anonymous)", await response.Content.ReadAsStringAsync());
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }
        Assert.Equal("(none)", await client.GetStringAsync("/read/cart"));
        Assert.Equal(cookie, client.Cookie);
        Assert.Contains(server.Logs.GetSnapshot(), e => e.Id.Id == 1017);

        Faults.Heal();
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
    }

    /// <summary>A load that hangs past the store timeout (on the fake clock) gives up: the request goes on without a session.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ALoadThatOutlastsTheStoreTimeoutGivesNoSession()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        Faults.Affects = op => op == "load_by_credential";
        Faults.Hang = true;

        var entered = Faults.WhenCalledAsync("load_by_credential");
        var pending = client.SendAsync(HttpMethod.Get, "/whoami");
        await entered;
        using (var response = await AdvancePastTheTimeoutAsync(pending))
        {
            Assert.Equal("(anonymous)", await response.Content.ReadAsStringAsync());
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }

        Faults.Heal();
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
    }

    /// <summary>With Tessera authentication, a protected route answers 503 with Retry-After while loads fail: never 200, and not a 401 that would send the user to sign in.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFailingLoadNeverGrantsAccessToAProtectedRoute()
    {
        var server = await StartAsync(authentication: true);
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(HttpMethod.Get, "/auth/user")).StatusCode);
        Faults.Failure = Unreachable;

        using (var response = await client.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        }
        using (var optional = await client.SendAsync(HttpMethod.Get, "/auth/optional"))
        {
            Assert.Equal(HttpStatusCode.OK, optional.StatusCode);
            Assert.DoesNotContain("alice", await optional.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Faults.Heal();
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(HttpMethod.Get, "/auth/user")).StatusCode);
    }

    /// <summary>A write to a session whose load failed is refused with 503 (the session's stored state is unknown), and nothing is written.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AWriteAfterAFailedLoadIs503AndWritesNothing()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/cart/apple");
        var cookie = client.Cookie;
        Faults.Affects = op => op == "load_by_credential";
        Faults.Failure = Unreachable;
        Store.Reset();

        using (var response = await client.SendAsync(HttpMethod.Post, "/set/cart/pear", new ByteArrayContent([])))
        {
            AssertUnavailable(response);
        }
        Assert.Equal(0, Store.Writes);
        Assert.Equal(cookie, client.Cookie);

        Faults.Heal();
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
    }

    /// <summary>
    /// A commit that fails is a 503 with Retry-After and a problem body, no Set-Cookie, and the stored session is as it
    /// was: no key of the patch applied. The body the handler wrote never reaches the client.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFailingCommitIs503AndLeavesTheStoredSessionAsItWas()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        await client.PostAsync("/set/c/3");
        var id = await client.GetStringAsync("/id");
        var before = await Store.LoadAsync(id);
        Faults.Affects = op => op == "apply";
        Faults.Failure = Unreachable;

        using (var response = await client.SendAsync(HttpMethod.Post, "/set-many", new ByteArrayContent([])))
        {
            AssertUnavailable(response);
            Assert.DoesNotContain("written", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Contains(server.Logs.GetSnapshot(), e => e.Id.Id == 1020);

        var after = await Store.LoadAsync(id);
        Assert.NotNull(after);
        Assert.Equal(before!.Data.OrderBy(e => e.Key, StringComparer.Ordinal), after.Data.OrderBy(e => e.Key, StringComparer.Ordinal));
        Faults.Heal();
        Assert.Equal("1", await client.GetStringAsync("/read/a"));
        Assert.Equal("3", await client.GetStringAsync("/read/c"));
        Assert.Equal("(none)", await client.GetStringAsync("/read/b"));
        Assert.Equal("written", await client.PostAsync("/set-many"));
        Assert.Equal("(none)", await client.GetStringAsync("/read/c"));
        Assert.Equal("2", await client.GetStringAsync("/read/b"));
    }

    /// <summary>A handler that streams its body in several flushes: with the store failing, a 503 (not a 200 cut short); healthy, the whole body and the cookie.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AStreamedResponseCommitsBeforeItsFirstByte()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        Faults.Affects = op => op == "create";
        Faults.Failure = Unreachable;

        using (var failed = await client.SendAsync(HttpMethod.Post, "/streamed", new ByteArrayContent([])))
        {
            AssertUnavailable(failed);
            Assert.DoesNotContain("part", await failed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Null(client.Cookie);

        Faults.Heal();
        using (var ok = await client.SendAsync(HttpMethod.Post, "/streamed", new ByteArrayContent([])))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("part 1,part 2,part 3", await ok.Content.ReadAsStringAsync());
        }
        Assert.NotNull(client.Cookie);
        Assert.Equal("yes", await client.GetStringAsync("/read/streamed"));
    }

    /// <summary>A commit that hangs past the store timeout is a 503 too.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ACommitThatOutlastsTheStoreTimeoutIs503()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        Faults.Affects = op => op == "apply";
        Faults.Hang = true;

        var entered = Faults.WhenCalledAsync("apply");
        var pending = client.SendAsync(HttpMethod.Post, "/set/a/2", new ByteArrayContent([]));
        await entered;
        using (var response = await AdvancePastTheTimeoutAsync(pending))
        {
            AssertUnavailable(response);
        }
        Faults.Heal();
        // The hung write was released by Heal and may still land: the contract is that the client was told to retry.
        var value = await client.GetStringAsync("/read/a");
        Assert.True(value is "1" or "2", value);
    }

    /// <summary>A sign-in whose write fails: 503, the credential is not rotated, and the old cookie still holds the anonymous session.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFailingSignInKeepsTheOldCredentialAndSession()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/cart/apple");

        await AssertAFailedWriteKeepsTheCookieAsync(client, "apply", "/signin/alice");

        Faults.Heal();
        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
        await client.PostAsync("/signin/alice");
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
    }

    /// <summary>A sign-out whose revocation fails is a 503 that keeps the cookie (so the client can retry); the retry ends the session.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFailingSignOutIs503AndTheRetryEndsTheSession()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");

        var cookie = await AssertAFailedWriteKeepsTheCookieAsync(client, "revoke", "/destroy");
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));

        Faults.Heal();
        await client.PostAsync("/destroy");
        Assert.Null(client.Cookie);
        using var replay = await client.SendAsync(HttpMethod.Get, "/whoami", cookieHeader: $"{client.CookieName}={cookie}");
        Assert.Equal("(anonymous)", await replay.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Makes the store's <paramref name="operation"/> fail as an unreachable server would and posts to
    /// <paramref name="path"/>: the answer is a 503 and the client keeps the cookie it had, so it can retry.
    /// </summary>
    /// <returns>That cookie.</returns>
    private async Task<string?> AssertAFailedWriteKeepsTheCookieAsync(CookieClient client, string operation, string path)
    {
        var cookie = client.Cookie;
        Faults.Affects = op => op == operation;
        Faults.Failure = Unreachable;

        using (var response = await client.SendAsync(HttpMethod.Post, path, new ByteArrayContent([])))
        {
            AssertUnavailable(response);
        }
        Assert.Equal(cookie, client.Cookie);
        return cookie;
    }

    /// <summary>A touch that fails does not fail a read-only request: the answer is served, and a later request extends the deadline.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFailingTouchDoesNotFailARead()
    {
        var server = await StartAsync(o => o.TouchInterval = TimeSpan.FromMinutes(1));
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        Clock.Advance(TimeSpan.FromMinutes(2));
        Faults.Affects = op => op == "touch";
        Faults.Failure = Unreachable;

        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        Assert.Contains(server.Logs.GetSnapshot(), e => e.Id.Id == 1018);
    }

    /// <summary>
    /// A flapping store (every other call fails): every answer is right, anonymous, or a 503; never another session's
    /// data, never a 500; once it settles, every client finds its own session again.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AFlappingStoreNeverMixesSessionsAndRecovers()
    {
        var server = await StartAsync();
        var clients = new List<CookieClient>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var client = server.CreateClient();
                clients.Add(client);
                await client.PostAsync($"/signin/user{i}");
                await client.PostAsync($"/set/owner/user{i}");
            }
            Faults.Failure = Unreachable;
            Faults.FailEvery = 2;
            var statuses = new HashSet<HttpStatusCode>();
            for (var round = 0; round < 10; round++)
            {
                for (var i = 0; i < clients.Count; i++)
                {
                    using var read = await clients[i].SendAsync(HttpMethod.Get, "/read/owner");
                    statuses.Add(read.StatusCode);
                    var body = await read.Content.ReadAsStringAsync();
                    Assert.Equal(HttpStatusCode.OK, read.StatusCode);
                    Assert.True(body == $"user{i}" || body == "(none)", body);
                    using var write = await clients[i].SendAsync(HttpMethod.Post, $"/set/round/{round}", new ByteArrayContent([]));
                    statuses.Add(write.StatusCode);
                    Assert.True(write.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"{(int)write.StatusCode}");
                }
            }
            Assert.Contains(HttpStatusCode.ServiceUnavailable, statuses);

            Faults.Heal();
            for (var i = 0; i < clients.Count; i++)
            {
                Assert.Equal($"user{i}", await clients[i].GetStringAsync("/whoami"));
                Assert.Equal($"user{i}", await clients[i].GetStringAsync("/read/owner"));
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    /// <summary>Bearer reads and the refresh endpoint answer 503 with Retry-After while the store fails (not invalid_token), and the same tokens work once it is back.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TokenRequestsWhileTheStoreFailsAre503AndTheTokensSurvive()
    {
        var server = await StartAsync(bearerTokens: true, authentication: true);
        var pair = await server.Manager.Tokens.CreateAsync("alice");
        using var client = server.CreateClient();
        client.AccessToken = pair.AccessToken;
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(HttpMethod.Get, "/auth/user")).StatusCode);
        Faults.Failure = Unreachable;

        using (var read = await client.SendAsync(HttpMethod.Get, "/auth/user"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, read.StatusCode);
            Assert.False(read.Headers.Contains("WWW-Authenticate"));
        }
        using (var refresh = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", JsonContent.Create(new { refreshToken = pair.RefreshToken })))
        {
            AssertUnavailable(refresh);
        }

        Faults.Heal();
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(HttpMethod.Get, "/auth/user")).StatusCode);
        using var refreshed = await client.SendAsync(HttpMethod.Post, "/tokens/refresh", JsonContent.Create(new { refreshToken = pair.RefreshToken }));
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
    }

    /// <summary>A write that would take the session past <see cref="TesseraOptions.MaxDataBytes"/> is a 413 and writes nothing; smaller writes still work.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AWriteOverTheDataLimitIs413AndWritesNothing()
    {
        var server = await StartAsync(o => o.MaxDataBytes = 2048);
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        Store.Reset();

        using (var response = await client.SendAsync(HttpMethod.Post, "/set-large/3000", new ByteArrayContent([])))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("session_data_too_large", problem.RootElement.GetProperty("reason").GetString());
        }
        Assert.Equal(0, Store.Writes);
        Assert.Equal("1", await client.GetStringAsync("/read/a"));
        Assert.Equal("written", await client.PostAsync("/set-large/1000"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await client.SendAsync(HttpMethod.Post, "/set-large/2100", new ByteArrayContent([]))).StatusCode);
    }

    /// <summary>Starts a server over <see cref="Faults"/> with the routes the suite needs, a 2-second store timeout and a 7-second Retry-After.</summary>
    /// <param name="configure">Further option changes.</param>
    /// <param name="bearerTokens">Whether token sessions are on.</param>
    /// <param name="authentication">Whether Tessera authentication is on.</param>
    /// <returns>The server.</returns>
    protected Task<TesseraTestServer> StartAsync(Action<TesseraOptions>? configure = null, bool bearerTokens = false, bool authentication = false) =>
        StartTestServerAsync(
            Faults,
            options =>
            {
                options.StoreTimeout = Timeout;
                options.StoreRetryAfter = TimeSpan.FromSeconds(7);
                configure?.Invoke(options);
            },
            MapRoutes,
            bearerTokens,
            authentication);

    private static void MapRoutes(WebApplication app)
    {
        app.MapPost("/set-many", (HttpSession session) =>
        {
            session.Set("a", "1x");
            session.Set("b", "2");
            session.Remove("c");
            return "written";
        });
        app.MapPost("/set-large/{size:int}", (HttpSession session, int size) =>
        {
            session.Set("large", new string('x', size));
            return "written";
        });
        app.MapPost("/streamed", async (HttpContext context) =>
        {
            var session = await context.GetTesseraSessionAsync();
            session.Set("streamed", "yes");
            for (var part = 1; part <= 3; part++)
            {
                await context.Response.WriteAsync(part == 1 ? "part 1" : $",part {part}");
                await context.Response.Body.FlushAsync();
            }
        });
    }

    // The hung call has been entered, but its timeout is armed a moment later (and the request's earlier store calls
    // armed and disarmed timers of their own), so there is no single instant to move the clock at: move it past the
    // timeout, give the server a moment of real time to answer, and again, until it does. Each step is a whole
    // timeout, so the answer never comes from a clock that stood still.
    private async Task<HttpResponseMessage> AdvancePastTheTimeoutAsync(Task<HttpResponseMessage> pending)
    {
        for (var step = 0; step < 100 && !pending.IsCompleted; step++)
        {
            Clock.Advance(Timeout);
            await Task.WhenAny(pending, Task.Delay(50));
        }
        return await pending;
    }

    private static InvalidOperationException Unreachable() => new("The store is unreachable (fault injected).");

    private static void AssertUnavailable(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.Contains("tessera", StringComparison.Ordinal)));
    }
}
