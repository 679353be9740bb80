using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tessera.Demo.Tests;

/// <summary>
/// The demo's point of sale (<c>/pos.html</c>) and the public indicator cookie in a real headless Chromium: two pages of
/// one browser context share one session cookie and keep two carts; a tab id from another browser opens nothing; the
/// page's script reads the indicator cookie and never sees the credential.
/// </summary>
public sealed partial class PointOfSaleBrowserTests(Chromium chromium, ITestOutputHelper output) : IClassFixture<Chromium>
{
    private const string TabStorageKey = "tessera-demo-pos-tab";

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    public async Task TwoTabsOfOneBrowserKeepSeparateCarts(string store)
    {
        await using var server = await DemoServer.StartAsync(store);
        await using var browser = await NewContextAsync(server);
        var till = await OpenPosAsync(browser);
        await AddAsync(till, "apple");
        var second = await OpenPosAsync(browser);
        await Expect(second.Locator("#cart li")).ToHaveTextAsync(["(empty)"]);
        await AddAsync(second, "pear");
        await AddAsync(second, "plum");

        await till.ReloadAsync();
        await second.ReloadAsync();

        await Expect(till.Locator("#cart li")).ToHaveTextAsync(["apple"]);
        await Expect(second.Locator("#cart li")).ToHaveTextAsync(["pear", "plum"]);
        Assert.NotEqual(await TabIdAsync(till), await TabIdAsync(second));
        Assert.Single(await browser.CookiesAsync(), c => c.Name == "tessera"); // one session for both tabs
        await ScreenshotAsync(till, $"pos-first-tab-{store}");
        await ScreenshotAsync(second, $"pos-second-tab-{store}");

        await till.GetByRole(AriaRole.Button, new() { Name = "Check out" }).ClickAsync();

        await Expect(till.Locator("#sold li")).ToHaveTextAsync(["sold: apple"]);
        await Expect(till.Locator("#cart li")).ToHaveTextAsync(["(empty)"]);
        await second.ReloadAsync();
        await Expect(second.Locator("#cart li")).ToHaveTextAsync(["pear", "plum"]);
    }

    [Fact]
    public async Task ATabIdFromAnotherBrowserOpensNothingAndThePageStartsItsOwnTab()
    {
        await using var server = await DemoServer.StartAsync("memory");
        await using var owner = await NewContextAsync(server);
        await using var other = await NewContextAsync(server);
        var till = await OpenPosAsync(owner);
        await AddAsync(till, "apple");
        var stolen = await TabIdAsync(till);

        // The other browser's page starts with the first browser's tab id in its sessionStorage.
        var page = await other.NewPageAsync();
        await page.AddInitScriptAsync($"if (!sessionStorage.getItem('{TabStorageKey}')) sessionStorage.setItem('{TabStorageKey}', '{stolen}');");
        var refused = page.WaitForResponseAsync(r => r.Url.EndsWith("/pos/cart", StringComparison.Ordinal) && r.Status == (int)HttpStatusCode.NotFound);
        await page.GotoAsync("/pos.html");

        await refused;
        // The refusal's body is read again through the same browser context: since the demo marks it
        // Cache-Control: no-store, reading the page's own response body back through Playwright never returned.
        var replayed = await other.APIRequest.GetAsync("/pos/cart", new() { Headers = new Dictionary<string, string> { ["X-Tessera-Tab"] = stolen } });
        Assert.Equal((int)HttpStatusCode.NotFound, replayed.Status);
        Assert.Equal("Unknown tab.", JsonDocument.Parse(await replayed.TextAsync()).RootElement.GetProperty("title").GetString());
        await Expect(page.Locator("#tab-id")).Not.ToHaveTextAsync(new Regex("…|" + Regex.Escape(stolen)));
        await Expect(page.Locator("#cart li")).ToHaveTextAsync(["(empty)"]);
        var guessed = await other.APIRequest.GetAsync("/pos/cart", new() { Headers = new Dictionary<string, string> { ["X-Tessera-Tab"] = new string('A', 22) } });
        Assert.Equal((int)HttpStatusCode.NotFound, guessed.Status);
        await till.ReloadAsync();
        await Expect(till.Locator("#cart li")).ToHaveTextAsync(["apple"]);
    }

    [Fact]
    public async Task ThePageReadsThePublicIndicatorCookieButNeverTheCredential()
    {
        await using var server = await DemoServer.StartAsync("memory", extra: "--Tessera:Cookie:PublicIndicator=true");
        await using var browser = await NewContextAsync(server);
        var page = await OpenPosAsync(browser);
        var sessionId = (await page.EvaluateAsync<JsonElement>(
            "() => fetch('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'alice' }) }).then(r => r.json())"))
            .GetProperty("sessionId").GetString()!;
        await page.ReloadAsync();
        await Expect(page.Locator("#session-state")).ToHaveTextAsync(new Regex("^Session ends at "));

        var scriptSees = await page.EvaluateAsync<string>("() => document.cookie");
        var credential = (await browser.CookiesAsync()).Single(c => c.Name == "tessera");

        var match = IndicatorCookie().Match(scriptSees);
        Assert.True(match.Success, $"document.cookie has no indicator: {scriptSees}");
        Assert.DoesNotMatch(@"(^|; )tessera=", scriptSees);
        Assert.DoesNotContain(credential.Value, scriptSees, StringComparison.Ordinal);
        Assert.DoesNotContain(sessionId, scriptSees, StringComparison.Ordinal);
        var now = DateTimeOffset.UtcNow;
        var idle = DateTimeOffset.FromUnixTimeSeconds(long.Parse(match.Groups["idle"].Value, CultureInfo.InvariantCulture));
        var absolute = DateTimeOffset.FromUnixTimeSeconds(long.Parse(match.Groups["absolute"].Value, CultureInfo.InvariantCulture));
        Assert.InRange(idle - now, TimeSpan.FromMinutes(29), TimeSpan.FromMinutes(30));
        Assert.InRange(absolute - now, TimeSpan.FromHours(8) - TimeSpan.FromMinutes(2), TimeSpan.FromHours(8));
        await ScreenshotAsync(page, "pos-indicator");

        Assert.Equal(204, await page.EvaluateAsync<int>("() => fetch('/logout', { method: 'POST' }).then(r => r.status)"));

        Assert.DoesNotContain("tessera.state", await page.EvaluateAsync<string>("() => document.cookie"), StringComparison.Ordinal);
        Assert.DoesNotContain(await browser.CookiesAsync(), c => c.Name.StartsWith("tessera", StringComparison.Ordinal));
    }

    private Task<IBrowserContext> NewContextAsync(DemoServer server) =>
        chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });

    /// <summary>Opens the point of sale in a new page of the context and waits until the page has its tab.</summary>
    private static async Task<IPage> OpenPosAsync(IBrowserContext context)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync("/pos.html");
        await Expect(page.Locator("#tab-id")).ToHaveTextAsync(new Regex("^[A-Za-z0-9_-]{22}$"));
        return page;
    }

    private static async Task AddAsync(IPage page, string item)
    {
        var before = await page.Locator("#cart li").AllTextContentsAsync();
        await page.GetByLabel("Item").FillAsync(item);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add to sale" }).ClickAsync();
        await Expect(page.Locator("#cart li")).ToHaveTextAsync([.. before.Where(t => t != "(empty)"), item]);
    }

    private static async Task<string> TabIdAsync(IPage page) =>
        await page.EvaluateAsync<string>($"() => sessionStorage.getItem('{TabStorageKey}')");

    private async Task ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(Chromium.ScreenshotDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }

    [GeneratedRegex(@"(?:^|; )tessera\.state=(?<idle>\d+)\.(?<absolute>\d+)(?:;|$)")]
    private static partial Regex IndicatorCookie();
}
