using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;
using Tessera.Testing;
using static Microsoft.Playwright.Assertions;

namespace Tessera.Demo.Tests;

/// <summary>
/// The JavaScript token client (<c>wwwroot/js/tessera-tokens.js</c>) and the demo's <c>/spa.html</c> in headless
/// Chromium, the page served from another origin than the API (another port of 127.0.0.1, allowed by
/// <c>Demo:CorsOrigins</c>). The server runs on a <see cref="FakeTimeProvider"/> and the browser's <c>Date</c> is set to
/// the same instant with Playwright's clock; both are moved, never slept on. Refresh calls are counted by the server.
/// </summary>
public sealed class TokenClientBrowserTests(Chromium chromium) : IClassFixture<Chromium>, IAsyncLifetime
{
    /// <summary>Inside the client's 30-second refresh margin of a 5-minute access token, not past it.</summary>
    private static readonly TimeSpan IntoTheMargin = TimeSpan.FromMinutes(4) + TimeSpan.FromSeconds(40);

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly RefreshGate _refreshes = new();
    private OtherOrigin? _pageOrigin;
    private DemoServer? _demo;
    private IBrowserContext? _browser;

    private DemoServer Demo => _demo ?? throw new InvalidOperationException("Not started.");

    private IBrowserContext Browser => _browser ?? throw new InvalidOperationException("Not started.");

    private string ApiOrigin => Demo.BaseAddress.GetLeftPart(UriPartial.Authority);

    public async ValueTask InitializeAsync()
    {
        // The page's own origin: same site as the demo, another port.
        _pageOrigin = await OtherOrigin.StartAsync(app =>
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot")) }));
        _demo = await DemoServer.StartWithServicesAsync(
            "memory", _clock, services => services.AddSingleton<IStartupFilter>(_refreshes), extra: [$"--Demo:CorsOrigins={_pageOrigin.Origin}"]);
        // One context: its pages are tabs of one browser profile, sharing IndexedDB, Web Locks and BroadcastChannel.
        _browser = await chromium.Browser.NewContextAsync();
        await SetBrowserClockAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
        if (_demo is not null)
        {
            await _demo.DisposeAsync();
        }
        if (_pageOrigin is not null)
        {
            await _pageOrigin.DisposeAsync();
        }
    }

    [Fact]
    public async Task ACallInsideTheRefreshMarginRotatesThePairFirstAndCarriesTheNewAccessToken()
    {
        var page = await OpenAsync();
        await SignInAsync(page, "alice");
        var signedIn = await StoredPairAsync(page);

        await AdvanceAsync(IntoTheMargin);
        var me = await page.RunAndWaitForResponseAsync(() => CallMeAgainAsync(page), IsApiMe);

        var rotated = await StoredPairAsync(page);
        Assert.Equal(1, _refreshes.Count);
        Assert.NotEqual(signedIn.Refresh, rotated.Refresh);
        Assert.NotEqual(signedIn.Access, rotated.Access);
        Assert.Equal(200, me.Status);
        var sent = await me.Request.AllHeadersAsync();
        Assert.Equal($"Bearer {rotated.Access}", sent["authorization"]);
        // Cross-origin: the page's origin asked, the API's CORS policy let it read the answer.
        Assert.Equal(_pageOrigin!.Origin, sent["origin"]);
        Assert.NotEqual(ApiOrigin, _pageOrigin.Origin);
        await Expect(page.Locator("#spa-state")).ToHaveTextAsync("Signed in as alice.");
    }

    [Fact]
    public async Task TwoTabsCallingWhileTheTokenIsDueMakeOneRefreshAndBothUseTheNewPair()
    {
        var first = await OpenAsync();
        await SignInAsync(first, "alice");
        var second = await OpenAsync();
        await Expect(second.Locator("#spa-state")).ToHaveTextAsync("Signed in as alice.");
        var signedIn = await StoredPairAsync(first);
        await AdvanceAsync(IntoTheMargin);

        // The first tab's refresh is held at the server until the second tab waits for the lock with the same due pair.
        _refreshes.Hold();
        var firstMe = first.WaitForResponseAsync(IsApiMe);
        var secondMe = second.WaitForResponseAsync(IsApiMe);
        await CallMeAgainAsync(first);
        await _refreshes.FirstArrived.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await CallMeAgainAsync(second);
        await second.WaitForFunctionAsync("async () => (await navigator.locks.query()).pending.length === 1");
        _refreshes.Release();

        var answers = await Task.WhenAll(firstMe, secondMe);
        var rotated = await StoredPairAsync(second);
        Assert.Equal(1, _refreshes.Count);
        Assert.NotEqual(signedIn.Refresh, rotated.Refresh);
        foreach (var answer in answers)
        {
            Assert.Equal(200, answer.Status);
            Assert.Equal($"Bearer {rotated.Access}", (await answer.Request.AllHeadersAsync())["authorization"]);
        }
        await Expect(first.Locator("#ended")).ToBeEmptyAsync();
        await Expect(second.Locator("#ended")).ToBeEmptyAsync();
        // No reuse detection fired: the session lives on, and its refresh token still rotates.
        Assert.Equal(HttpStatusCode.OK, (await RefreshOutsideTheBrowserAsync(rotated.Refresh)).StatusCode);
    }

    [Fact]
    public async Task ARefreshTokenReplayedByAThiefEndsTheSessionAndEveryTabSaysSo()
    {
        var first = await OpenAsync();
        await SignInAsync(first, "alice");
        var second = await OpenAsync();
        await Expect(second.Locator("#spa-state")).ToHaveTextAsync("Signed in as alice.");
        var console = new List<string>();
        first.Console += (_, message) => console.Add(message.Text);
        second.Console += (_, message) => console.Add(message.Text);
        var stolen = await StoredPairAsync(first);
        await AdvanceAsync(IntoTheMargin);
        Assert.Equal(200, (await first.RunAndWaitForResponseAsync(() => CallMeAgainAsync(first), IsApiMe)).Status);
        var rotated = await StoredPairAsync(first);

        // Past the grace window, the copy's refresh token is a reuse: the server revokes the session everywhere.
        await AdvanceAsync(TimeSpan.FromSeconds(10));
        using (var replay = await RefreshOutsideTheBrowserAsync(stolen.Refresh))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
            Assert.Contains("refresh_token_reused", await replay.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }
        await CallMeAgainAsync(first);

        foreach (var page in new[] { first, second })
        {
            await Expect(page.Locator("#ended")).ToContainTextAsync("Session ended: revoked");
            await Expect(page.Locator("#spa-state")).ToHaveTextAsync("Not signed in.");
        }
        Assert.Null(await first.EvaluateAsync<string?>(StoredPairScript));
        // The tab's rotation, the thief's replay, and the tab's refresh that learned of the end: nothing more.
        Assert.Equal(3, _refreshes.Count);
        // The console says why, and shows no token.
        Assert.Contains("Tessera: the server ended the session (revoked).", console);
        Assert.DoesNotContain(console, text => new[] { stolen.Access, stolen.Refresh, rotated.Access, rotated.Refresh }.Any(token => text.Contains(token, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ATabPresentingARotatedRefreshTokenIsToldTheSessionEndedForReuse()
    {
        var page = await OpenAsync();
        await SignInAsync(page, "alice");
        var old = await page.EvaluateAsync<string>(StoredPairScript);
        await AdvanceAsync(IntoTheMargin);
        await page.RunAndWaitForResponseAsync(() => CallMeAgainAsync(page), IsApiMe);

        // A stale copy of the pair comes back (a restored backup, a second profile): its refresh token was rotated.
        await AdvanceAsync(TimeSpan.FromSeconds(10));
        await page.EvaluateAsync(RestorePairScript, old);
        await CallMeAgainAsync(page);

        await Expect(page.Locator("#ended")).ToContainTextAsync("Session ended: refreshTokenReused");
        await Expect(page.Locator("#spa-state")).ToHaveTextAsync("Not signed in.");
    }

    [Fact]
    public async Task A401InvalidTokenRefreshesAndSendsTheRequestOnceMoreWithItsBodyUnlessTheBodyIsARequestsOwn()
    {
        var page = await OpenAsync();
        await SignInAsync(page, "alice");
        // The server's clock runs past the access token's expiry while the browser's stays: the client sees a fresh
        // token, the server answers 401 invalid_token (expired_token).
        _clock.Advance(TimeSpan.FromMinutes(6));

        var added = await AddToCartAsync(page, "apple", asRequest: false);
        Assert.Equal(200, added.Status);
        Assert.Equal(["apple"], added.Items);
        Assert.Equal(1, _refreshes.Count);

        // A Request with a body of its own is sent once: its 401 comes back, the pair is refreshed all the same.
        _clock.Advance(TimeSpan.FromMinutes(6));
        var refused = await AddToCartAsync(page, "pear", asRequest: true);
        Assert.Equal(401, refused.Status);
        Assert.Equal(2, _refreshes.Count);

        var next = await AddToCartAsync(page, "plum", asRequest: true);
        Assert.Equal(200, next.Status);
        Assert.Equal(["apple", "plum"], next.Items);
        Assert.Equal(2, _refreshes.Count);
    }

    [Fact]
    public async Task WhereIndexedDBCannotBeUsedEachTabKeepsItsOwnPairInMemoryAndThePageAndConsoleSaySo()
    {
        // Fault injection: indexedDB.open throws, as it does in an opaque origin (a sandboxed iframe).
        await Browser.AddInitScriptAsync("IDBFactory.prototype.open = () => { throw new DOMException('The operation is insecure.', 'SecurityError'); };");
        var console = new List<string>();
        Browser.Console += (_, message) => console.Add(message.Text);
        var first = await OpenAsync();
        await Expect(first.Locator("#storage")).ToContainTextAsync("kept in this page's memory only");
        var login = await first.RunAndWaitForResponseAsync(() => SignInAsync(first, "alice"), response => response.Url.EndsWith("/api/login", StringComparison.Ordinal));
        var signedIn = (await login.JsonAsync())!.Value;

        // The pair in memory still rotates ahead of expiry.
        await AdvanceAsync(IntoTheMargin);
        var me = await first.RunAndWaitForResponseAsync(() => CallMeAgainAsync(first), IsApiMe);
        Assert.Equal(200, me.Status);
        Assert.Equal(1, _refreshes.Count);
        var sent = (await me.Request.AllHeadersAsync())["authorization"];
        Assert.NotEqual($"Bearer {signedIn.GetProperty("accessToken").GetString()}", sent);

        // Another tab does not share it.
        var second = await OpenAsync();
        await Expect(second.Locator("#spa-state")).ToHaveTextAsync("Not signed in.");
        await Expect(second.Locator("#storage")).ToContainTextAsync("kept in this page's memory only");
        Assert.Contains("Tessera: IndexedDB cannot be used here (SecurityError); the token pair is kept in this page's memory only: other tabs do not share it, and a reload forgets it.", console);
        var tokens = new[] { signedIn.GetProperty("accessToken").GetString()!, signedIn.GetProperty("refreshToken").GetString()!, sent["Bearer ".Length..] };
        Assert.DoesNotContain(console, text => tokens.Any(token => text.Contains(token, StringComparison.Ordinal)));
    }

    /// <summary>
    /// Script text: <c>withPairs(mode, store => request)</c> opens the client's IndexedDB object store in a transaction
    /// of its own and resolves with the request's result once the transaction has completed.
    /// </summary>
    private const string WithPairs =
        """
        const withPairs = (mode, act) => new Promise((resolve, reject) => {
            const opened = indexedDB.open('tessera.tokens');
            opened.onerror = () => reject(opened.error);
            opened.onsuccess = () => {
                const transaction = opened.result.transaction('pairs', mode);
                const request = act(transaction.objectStore('pairs'));
                transaction.oncomplete = () => { opened.result.close(); resolve(request.result); };
                transaction.onabort = () => reject(transaction.error);
            };
        });
        """;

    /// <summary>The stored pair as JSON, or null: the one record of the client's IndexedDB object store.</summary>
    private const string StoredPairScript =
        "async () => { " + WithPairs + " const pairs = await withPairs('readonly', store => store.getAll()); return pairs.length === 1 ? JSON.stringify(pairs[0]) : null; }";

    /// <summary>Puts a pair (JSON) back as the stored one, over the record that is there.</summary>
    private const string RestorePairScript =
        "async pair => { " + WithPairs + " const [key] = await withPairs('readonly', store => store.getAllKeys()); await withPairs('readwrite', store => store.put(JSON.parse(pair), key)); }";

    private static bool IsApiMe(IResponse response) => response.Url.EndsWith("/api/me", StringComparison.Ordinal) && response.Request.Method == "GET";

    private async Task<IPage> OpenAsync()
    {
        var page = await Browser.NewPageAsync();
        await page.GotoAsync($"{_pageOrigin!.Origin}/spa.html?api={Uri.EscapeDataString(ApiOrigin)}");
        await Expect(page.Locator("#spa-state")).Not.ToHaveTextAsync("…");
        return page;
    }

    private static async Task SignInAsync(IPage page, string user)
    {
        await page.GetByLabel("User").FillAsync(user);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with tokens" }).ClickAsync();
        await Expect(page.Locator("#spa-state")).ToHaveTextAsync($"Signed in as {user}.");
    }

    private static Task CallMeAgainAsync(IPage page) => page.GetByRole(AriaRole.Button, new() { Name = "Call /api/me again" }).ClickAsync();

    private static async Task<(string Access, string Refresh)> StoredPairAsync(IPage page)
    {
        using var pair = JsonDocument.Parse(await page.EvaluateAsync<string>(StoredPairScript));
        return (pair.RootElement.GetProperty("accessToken").GetString()!, pair.RootElement.GetProperty("refreshToken").GetString()!);
    }

    /// <summary>POST /api/cart through a second client over the same shared pair, with the body in init or inside a Request.</summary>
    private async Task<(int Status, string[] Items)> AddToCartAsync(IPage page, string item, bool asRequest)
    {
        var answer = await page.EvaluateAsync<JsonElement>(
            """
            async ([api, item, asRequest]) => {
                const { TesseraTokenClient } = await import('/js/tessera-tokens.js');
                const client = new TesseraTokenClient({ refreshEndpoint: `${api}/api/refresh` });
                const init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ item }) };
                const response = asRequest ? await client.fetch(new Request(`${api}/api/cart`, init)) : await client.fetch(`${api}/api/cart`, init);
                return { status: response.status, items: response.ok ? (await response.json()).items : [] };
            }
            """,
            new object[] { ApiOrigin, item, asRequest });
        return (answer.GetProperty("status").GetInt32(), [.. answer.GetProperty("items").EnumerateArray().Select(i => i.GetString()!)]);
    }

    private async Task<HttpResponseMessage> RefreshOutsideTheBrowserAsync(string refreshToken)
    {
        using var client = new HttpClient { BaseAddress = Demo.BaseAddress };
        return await client.PostAsJsonAsync("/api/refresh", new { refreshToken }, TestContext.Current.CancellationToken);
    }

    /// <summary>Moves the server's clock and sets the browser's <c>Date</c> to the same instant.</summary>
    private async Task AdvanceAsync(TimeSpan by)
    {
        _clock.Advance(by);
        await SetBrowserClockAsync();
    }

    private Task SetBrowserClockAsync() =>
        Browser.Clock.SetFixedTimeAsync(_clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// Counts the <c>POST /api/refresh</c> requests that reach the demo, first thing in its pipeline, and can hold them
    /// until released (so a test can line a second tab up behind the first one's refresh).
    /// </summary>
    private sealed class RefreshGate : IStartupFilter
    {
        private readonly TaskCompletionSource _firstArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _count;

        public RefreshGate() => _open.SetResult();

        public int Count => Volatile.Read(ref _count);

        public Task FirstArrived => _firstArrived.Task;

        public void Hold() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _open.TrySetResult();

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals("/api/refresh", StringComparison.OrdinalIgnoreCase))
                {
                    Interlocked.Increment(ref _count);
                    _firstArrived.TrySetResult();
                    await _open.Task.WaitAsync(context.RequestAborted);
                }
                await nextMiddleware(context);
            });
            next(app);
        };
    }
}
