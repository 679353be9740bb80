using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tessera.Demo.Tests;

/// <summary>
/// The demo on <c>--Tessera:Store=cookie</c> in a real headless Chromium: a session of several kilobytes (several
/// chunk cookies) goes through the browser's own cookie jar and comes back equal, and shrinking it makes the browser
/// drop the chunks it no longer needs.
/// </summary>
public sealed class DemoCookieStoreBrowserTests(Chromium chromium, ITestOutputHelper output) : IClassFixture<Chromium>
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    [Fact]
    public async Task ASessionLargerThanACookieSurvivesTheBrowsersCookieJarAndShrinkingDropsTheStaleChunks()
    {
        await using var server = await DemoServer.StartAsync("cookie");
        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        // Random text: nothing here may depend on the value compressing well.
        var items = Enumerable.Range(0, 40).Select(i => $"{i:D2}-" + RandomNumberGenerator.GetString(Alphabet, 90)).ToList();
        var messages = Enumerable.Range(0, 6).Select(_ => RandomNumberGenerator.GetString(Alphabet, 500)).ToList();

        // Written by the page itself (fetch), so the Set-Cookie headers land in the browser's jar and nowhere else.
        await PostAsync(page, "/login", new { user = "alice" });
        foreach (var item in items)
        {
            await PostAsync(page, "/cart", new { item });
        }
        foreach (var message in messages)
        {
            await PostAsync(page, "/flash", new { message });
        }
        var large = await ChunksAsync(context);
        Assert.True(large.Count >= 3, $"expected at least 3 chunk cookies, the browser holds {large.Count}");
        // Every chunk but the last is as full as the 4,096-byte Set-Cookie limit allows with the real attributes.
        Assert.All(large[..^1], c => Assert.InRange(c.Name.Length + c.Value.Length, 3900, 4096));

        await page.ReloadAsync();
        await Expect(page.Locator("#who")).ToHaveTextAsync("Signed in as alice.");
        Assert.Equal(items, await GetItemsAsync(page, "/cart", "items"));
        // Reading the flash messages removes them: the session shrinks.
        Assert.Equal(messages, await GetItemsAsync(page, "/flash", "messages"));

        var small = await ChunksAsync(context);
        output.WriteLine($"chunk cookies in the browser: {large.Count} ({string.Join(", ", large.Select(c => c.Name.Length + 1 + c.Value.Length))} bytes of name=value), then {small.Count} after shrinking");
        Assert.True(small.Count < large.Count, $"still {small.Count} chunk cookies after shrinking from {large.Count}");
        Assert.Equal(Enumerable.Range(0, small.Count).Select(i => $"tessera.{i}"), small.Select(c => c.Name));
        await page.ReloadAsync();
        await Expect(page.Locator("#who")).ToHaveTextAsync("Signed in as alice.");
        Assert.Equal(items, await GetItemsAsync(page, "/cart", "items"));
        Assert.Empty(await GetItemsAsync(page, "/flash", "messages"));

        // Signing out deletes every chunk in the browser.
        await PostAsync(page, "/logout", null);
        Assert.Empty(await ChunksAsync(context));
        Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == "tessera");
    }

    private static async Task PostAsync(IPage page, string path, object? body)
    {
        var status = await page.EvaluateAsync<int>(
            "async ([path, body]) => (await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body === null ? null : JSON.stringify(body) })).status",
            new object?[] { path, body });
        Assert.True(status is 200 or 204, $"POST {path} answered {status}");
    }

    private static async Task<List<string>> GetItemsAsync(IPage page, string path, string property)
    {
        var json = await page.EvaluateAsync<string>("async path => await (await fetch(path)).text()", path);
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.GetProperty(property).EnumerateArray().Select(e => e.GetString()!)];
    }

    private static async Task<List<BrowserContextCookiesResult>> ChunksAsync(IBrowserContext context) =>
        [.. (await context.CookiesAsync()).Where(c => c.Name.StartsWith("tessera.", StringComparison.Ordinal) && c.Name.Length > 8 && char.IsAsciiDigit(c.Name[8])).OrderBy(c => c.Name.Length).ThenBy(c => c.Name, StringComparer.Ordinal)];
}

/// <summary>The demo on the cookie store over HTTP: the session works, and what needs server-side state says so.</summary>
public sealed class DemoCookieStoreTests
{
    [Fact]
    public async Task TheSessionLivesInTheCookiesAndRoutesThatNeedServerStateAnswerClearly()
    {
        await using var server = await DemoServer.StartAsync("cookie");
        using var client = server.CreateClient();

        await client.JsonAsync(HttpMethod.Post, "/login", new { user = "alice" });
        await client.JsonAsync(HttpMethod.Post, "/cart", new { item = "apple" });

        Assert.Equal("alice", (await client.JsonAsync(HttpMethod.Get, "/me")).GetProperty("user").GetString());
        Assert.Equal("apple", (await client.JsonAsync(HttpMethod.Get, "/cart")).GetProperty("items")[0].GetString());
        Assert.Contains("tessera.0", client.Cookies.Keys);
        var devices = await client.JsonAsync(HttpMethod.Get, "/sessions", expectedStatus: 501);
        Assert.Contains("cookies", devices.GetProperty("title").GetString(), StringComparison.Ordinal);
        await client.JsonAsync(HttpMethod.Delete, "/sessions/" + Guid.NewGuid().ToString("D"), expectedStatus: 501);
        await client.JsonAsync(HttpMethod.Post, "/sessions/revoke-others", expectedStatus: 501);
        var stats = await client.JsonAsync(HttpMethod.Get, "/admin/stats");
        Assert.Equal(JsonValueKind.Null, stats.GetProperty("sessions").ValueKind);
        Assert.Equal("CookieSessionStore", stats.GetProperty("store").GetString());
        await client.JsonAsync(HttpMethod.Post, "/api/login", new { user = "alice" }, expectedStatus: 501);
        using (var page = await client.GetAsync("/account/sessions"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            // Decoded as a browser reads it: Razor may write the apostrophe as &#x27;.
            Assert.Contains("cannot list a user's sessions", WebUtility.HtmlDecode(await page.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        }

        using var logout = await client.PostAsync("/logout");
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        Assert.DoesNotContain(client.Cookies.Keys, name => name == "tessera" || name.StartsWith("tessera.", StringComparison.Ordinal) && char.IsAsciiDigit(name[^1]));
        using var me = await client.GetAsync("/me");
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
    }
}
