using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore;
using Tessera.AspNetCore.CookieStore;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The encrypted cookie store with a given store as its revocation store
/// (<see cref="CookieSessionStoreOptions.RevocationStore"/>), on a real Kestrel server and a real HTTP client: a saved
/// older copy of a session's cookies is refused once a later write replaced it and the grace window has passed, while a
/// browser's own races (parallel writes whose responses arrive in either order, a slow request that commits after
/// quicker ones, a request already on its way when a write committed) never cost it its session. Inherit it with the
/// store to use as the revocation store.
/// </summary>
public abstract class CookieStoreRollbackConformanceTests<TKit> : HttpConformanceTestBase<TKit>
    where TKit : StoreKit, new()
{
    private static readonly TimeSpan Grace = CookieSessionStoreDefaults.ReplacedCookieGraceWindow;

    private readonly ConcurrentDictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    /// <summary>The revocation store under the cookie store, wrapped so a test can count its reads and writes.</summary>
    protected CountingSessionStore Revocations { get; private set; } = null!;

    /// <inheritdoc />
    protected override ISessionStore CreateStore()
    {
        Revocations = new CountingSessionStore(Kit.CreateStore(Clock));
        return new CookieSessionStore(new HttpContextAccessor(), new CookieSessionStoreOptions { RevocationStore = Revocations }, Clock);
    }

    /// <inheritdoc />
    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        services.AddHttpContextAccessor();
    }

    /// <summary>
    /// The audit's sequence: cookies saved before a coupon was used and the cart changed, sent again later, restore
    /// neither the unused coupon nor the old cart (they are no session), and the browser's own cookies still work.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ReplayingSavedCookiesAfterALaterWriteDoesNotRestoreTheOlderState()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        await client.PostAsync("/set/cart/apple");
        await client.PostAsync("/set/coupon/unused");
        var saved = client.SaveCookies();
        await client.PostAsync("/set/coupon/used");
        await client.PostAsync("/set/cart/apple,pear");

        Clock.Advance(Grace);

        using var replay = server.CreateClient();
        replay.RestoreCookies(saved);
        Assert.Equal("(none)", await replay.GetStringAsync("/read/coupon"));
        Assert.Equal("(none)", await replay.GetStringAsync("/read/cart"));
        Assert.Equal("(anonymous)", await replay.GetStringAsync("/whoami"));
        // Writing with the refused cookies starts a new, empty session: it cannot resume the old one either.
        await replay.PostAsync("/set/other/x");
        Assert.Equal("(none)", await replay.GetStringAsync("/read/coupon"));
        Assert.Equal("(anonymous)", await replay.GetStringAsync("/whoami"));

        Assert.Equal("used", await client.GetStringAsync("/read/coupon"));
        Assert.Equal("apple,pear", await client.GetStringAsync("/read/cart"));
        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// A request sent with the cookies a write is replacing (a page's parallel requests) still has its session for
    /// the grace window after that write committed; from the end of the window on, those cookies are no session.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task CookiesReplacedByAWriteStillLoadForTheGraceWindowThenNever()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        await client.PostAsync("/set/step/1");
        var before = client.SaveCookies();
        await client.PostAsync("/set/step/2");
        using var inFlight = server.CreateClient();
        inFlight.RestoreCookies(before);

        Clock.Advance(Grace - TimeSpan.FromMilliseconds(1));
        Assert.Equal("1", await inFlight.GetStringAsync("/read/step"));

        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("(none)", await inFlight.GetStringAsync("/read/step"));
        Assert.Equal("2", await client.GetStringAsync("/read/step"));
    }

    /// <summary>
    /// Two writes from one browser run at once; the one that committed later answers first, so the browser's cookie
    /// jar ends with the earlier one's cookies (the lower version). Long after the grace window the browser still has
    /// its session, with that write's state, and can go on writing.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TwoParallelWritesWhoseResponsesArriveInTheWrongOrderLeaveTheBrowserItsSession()
    {
        var server = await StartAsync();
        using var browser = await SignedInBrowserAsync(server);

        var first = browser.SendAsync(HttpMethod.Post, "/gated/first/a", apply: false);
        var second = browser.SendAsync(HttpMethod.Post, "/gated/second/b", apply: false);
        await Task.WhenAll(GateFor("first").Entered, GateFor("second").Entered);
        using var firstResponse = await ReleaseAsync("first", first);
        using var secondResponse = await ReleaseAsync("second", second);

        // The response of the later commit arrives first; the earlier one's Set-Cookie lands last and wins.
        browser.Apply(secondResponse);
        browser.Apply(firstResponse);
        Clock.Advance(Grace * 10);

        Assert.Equal("alice", await browser.GetStringAsync("/whoami"));
        Assert.Equal("a", await browser.GetStringAsync("/read/first"));
        Assert.Equal("(none)", await browser.GetStringAsync("/read/second"));
        (await browser.SendAsync(HttpMethod.Post, "/set/after/c")).Dispose();
        Clock.Advance(Grace * 10);
        Assert.Equal("c", await browser.GetStringAsync("/read/after"));
        Assert.Equal("alice", await browser.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// A slow write loads the session, two quick writes of the same browser commit one after the other meanwhile, and
    /// the slow one commits and answers last: the browser keeps its cookies and, long after the grace window, still has
    /// its session. The version a write seals is taken when it commits, not when its request loaded the session.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task ASlowWriteThatAnswersAfterQuickerOnesLeavesTheBrowserItsSession()
    {
        var server = await StartAsync();
        using var browser = await SignedInBrowserAsync(server);

        var slow = browser.SendAsync(HttpMethod.Post, "/gated/slow/s", apply: false);
        await GateFor("slow").Entered;
        (await browser.SendAsync(HttpMethod.Post, "/set/quick/1")).Dispose();
        (await browser.SendAsync(HttpMethod.Post, "/set/quick/2")).Dispose();
        using var slowResponse = await ReleaseAsync("slow", slow);
        browser.Apply(slowResponse);
        Clock.Advance(Grace * 10);

        Assert.Equal("alice", await browser.GetStringAsync("/whoami"));
        Assert.Equal("s", await browser.GetStringAsync("/read/slow"));
    }

    /// <summary>
    /// What the version check costs: per cookie write, one read and one write of the revocation store (a new session's
    /// first write: one write); per request that loads a session, one read; a request that never uses its session,
    /// nothing.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task EachCookieWriteCostsOneReadAndOneWriteOfTheRevocationStore()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();

        Revocations.Reset();
        await client.PostAsync("/set/a/1");
        Assert.Equal((0, 1), (Revocations.Reads, Revocations.Writes));

        Revocations.Reset();
        await client.PostAsync("/set/a/2");
        Assert.Equal((2, 1), (Revocations.Reads, Revocations.Writes)); // the load's check, then the write's read

        Revocations.Reset();
        Assert.Equal("2", await client.GetStringAsync("/read/a"));
        Assert.Equal((1, 0), (Revocations.Reads, Revocations.Writes));

        Revocations.Reset();
        Assert.Equal("plain", await client.GetStringAsync("/plain"));
        Assert.Equal(0, Revocations.Calls);
    }

    /// <summary>
    /// A session written many times, within one grace window and across many, keeps a small entry in the revocation
    /// store; its current cookies keep working and the earliest ones are refused.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task TheRevocationEntryStaysSmallHoweverOftenTheSessionIsWritten()
    {
        var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/n/0");
        var first = client.SaveCookies();
        var id = await client.GetStringAsync("/id");

        for (var i = 1; i <= 60; i++)
        {
            await client.PostAsync($"/set/n/{i}");
            Clock.Advance(TimeSpan.FromMilliseconds(i <= 30 ? 10 : 1000));
            var entry = await Revocations.Inner.LoadAsync(id);
            Assert.NotNull(entry);
            Assert.True(entry.Data.Count <= 20, $"after {i} writes the entry holds {entry.Data.Count} keys: {string.Join(", ", entry.Data.Keys)}");
        }

        Assert.Equal("60", await client.GetStringAsync("/read/n"));
        using var replay = server.CreateClient();
        replay.RestoreCookies(first);
        Assert.Equal("(none)", await replay.GetStringAsync("/read/n"));
    }

    private Task<TesseraTestServer> StartAsync() => StartTestServerAsync(Store, null, MapRoutes);

    private void MapRoutes(WebApplication app) =>
        app.MapPost("/gated/{key}/{value}", async (HttpSession session, string key, string value) =>
        {
            // The session is loaded before the handler runs: entering means this request holds the cookies it was sent with.
            var gate = GateFor(key);
            gate.Enter();
            await gate.Released;
            session.Set(key, value);
            return "ok";
        });

    private Gate GateFor(string key) => _gates.GetOrAdd(key, _ => new Gate());

    private async Task<HttpResponseMessage> ReleaseAsync(string key, Task<HttpResponseMessage> request)
    {
        GateFor(key).Release();
        var response = await request;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    private static async Task<Browser> SignedInBrowserAsync(TesseraTestServer server)
    {
        var browser = new Browser(server.Address);
        (await browser.SendAsync(HttpMethod.Post, "/signin/alice")).Dispose();
        Assert.Equal("alice", await browser.GetStringAsync("/whoami"));
        return browser;
    }

    /// <summary>
    /// A real HTTP client with a real cookie jar (<see cref="CookieContainer"/>), applying <c>Set-Cookie</c> headers in
    /// the order the test hands it responses, as a browser applies them in the order they arrive. The jar is keyed by
    /// the https form of the address, since the server's cookies are Secure; the requests go over the test's plain http.
    /// </summary>
    private sealed class Browser(Uri address) : IDisposable
    {
        private readonly HttpClient _http = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = address };
        private readonly CookieContainer _jar = new();
        private readonly Uri _site = new UriBuilder(address) { Scheme = "https", Port = address.Port }.Uri;

        public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, bool apply = true)
        {
            using var request = new HttpRequestMessage(method, path) { Content = method == HttpMethod.Post ? new ByteArrayContent([]) : null };
            var cookies = _jar.GetCookieHeader(_site);
            if (cookies.Length > 0)
            {
                request.Headers.TryAddWithoutValidation("Cookie", cookies);
            }
            var response = await _http.SendAsync(request);
            if (apply)
            {
                Apply(response);
            }
            return response;
        }

        public async Task<string> GetStringAsync(string path)
        {
            using var response = await SendAsync(HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }

        public void Apply(HttpResponseMessage response)
        {
            if (response.Headers.TryGetValues("Set-Cookie", out var values))
            {
                foreach (var value in values)
                {
                    _jar.SetCookies(_site, value);
                }
            }
        }

        public void Dispose() => _http.Dispose();
    }

    private sealed class Gate
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public Task Released => _released.Task;

        public void Enter() => _entered.TrySetResult();

        public void Release() => _released.TrySetResult();
    }
}
