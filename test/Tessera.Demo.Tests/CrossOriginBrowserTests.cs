using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;

namespace Tessera.Demo.Tests;

/// <summary>
/// The request-origin guard against a real browser: a page on another port of 127.0.0.1 is same-site with the demo but
/// not same-origin, like a sibling subdomain, so Chromium sends the demo's <c>SameSite=Lax</c> cookie with a form it
/// posts there. That is the attack <c>SameSite</c> alone lets through (a page on another site would not get the cookie
/// sent at all, and would prove nothing).
/// </summary>
public sealed class CrossOriginBrowserTests(Chromium chromium) : IClassFixture<Chromium>
{
    [Fact]
    public async Task AFormPostFromASiblingOriginCarriesTheCookieAndIsRefusedWithoutChangingTheSession()
    {
        await using var demo = await DemoServer.StartAsync("memory");
        await using var sibling = await StartSiblingAsync();
        await using var context = await SignedInWithOneClickAsync(demo);
        var page = context.Pages[0];

        var refused = await page.RunAndWaitForResponseAsync(
            () => page.GotoAsync(AttackPage(sibling, new Uri(demo.BaseAddress, "/counter/clicks"))),
            response => response.Url.EndsWith("/counter/clicks", StringComparison.Ordinal));

        Assert.Equal(403, refused.Status);
        var sent = await refused.Request.AllHeadersAsync();
        Assert.Equal("POST", refused.Request.Method);
        Assert.Equal("same-site", sent["sec-fetch-site"]);
        Assert.Equal(sibling.Origin, sent["origin"]);
        Assert.Contains("tessera=", sent["cookie"], StringComparison.Ordinal);
        Assert.Contains("cross_origin_request", await refused.TextAsync(), StringComparison.Ordinal);

        // Nor can the sibling sign the user out.
        var logout = await page.RunAndWaitForResponseAsync(
            () => page.GotoAsync(AttackPage(sibling, new Uri(demo.BaseAddress, "/logout"))),
            response => response.Url.EndsWith("/logout", StringComparison.Ordinal));
        Assert.Equal(403, logout.Status);

        await page.GotoAsync("/");
        Assert.Equal("""{"clicks":1}""", await GetTextAsync(page, "/counters"));
        Assert.Equal("alice", JsonDocument.Parse(await GetTextAsync(page, "/me")).RootElement.GetProperty("user").GetString());
    }

    [Fact]
    public async Task ASameOriginFormPostAndFetchStillWork()
    {
        await using var demo = await DemoServer.StartAsync("memory");
        await using var context = await SignedInWithOneClickAsync(demo);
        var page = context.Pages[0];

        // A plain HTML form of the demo's own origin, submitted as a person would. The wait for its navigation begins
        // before the submit: begun after the response, it can miss a navigation that has already committed.
        var navigated = page.WaitForURLAsync("**/counter/clicks");
        var posted = await page.RunAndWaitForResponseAsync(
            () => page.EvaluateAsync("""
                () => {
                    const form = document.createElement('form');
                    form.method = 'post';
                    form.action = '/counter/clicks';
                    document.body.appendChild(form);
                    form.submit();
                }
                """),
            response => response.Url.EndsWith("/counter/clicks", StringComparison.Ordinal));

        Assert.Equal(200, posted.Status);
        Assert.Equal("same-origin", (await posted.Request.AllHeadersAsync())["sec-fetch-site"]);
        // Let the form's navigation finish, or the next one interrupts it.
        await navigated;
        await page.GotoAsync("/");
        Assert.Equal("""{"clicks":2}""", await GetTextAsync(page, "/counters"));
        Assert.Equal(204, await FetchAsync(page, "/logout"));
        Assert.Equal(401, await FetchStatusAsync(page, "/me"));
    }

    /// <summary>
    /// A browser context whose one page, on the demo's home page, signed alice in and counted one click, both with
    /// same-origin <c>fetch</c> POSTs (which the guard lets through).
    /// </summary>
    private async Task<IBrowserContext> SignedInWithOneClickAsync(DemoServer demo)
    {
        var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = demo.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        Assert.Equal(200, await FetchAsync(page, "/login", """{"user":"alice"}"""));
        Assert.Equal(200, await FetchAsync(page, "/counter/clicks"));
        return context;
    }

    /// <summary>A same-origin <c>fetch</c> POST from the page (JSON when a body is given); its status.</summary>
    private static Task<int> FetchAsync(IPage page, string path, string? json = null) =>
        page.EvaluateAsync<int>(
            "async ([path, body]) => (await fetch(path, body === null ? { method: 'POST' } : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })).status",
            new object?[] { path, json });

    private static Task<int> FetchStatusAsync(IPage page, string path) =>
        page.EvaluateAsync<int>("async path => (await fetch(path)).status", path);

    private static async Task<string> GetTextAsync(IPage page, string path)
    {
        var text = await page.EvaluateAsync<string>("async path => await (await fetch(path)).text()", path);
        // Compact form, whatever the serializer's spacing.
        return JsonSerializer.Serialize(JsonDocument.Parse(text).RootElement);
    }

    /// <summary>
    /// The sibling: a site on another port of 127.0.0.1 whose page posts a form to the demo as soon as it loads, the
    /// way a compromised or hostile subdomain would.
    /// </summary>
    private static Task<OtherOrigin> StartSiblingAsync() => OtherOrigin.StartAsync(app => app.MapGet("/attack", (string target) => Results.Content(
        $"""
        <!doctype html>
        <html lang="en"><head><title>Win a prize</title></head>
        <body>
        <form id="f" method="post" action="{System.Net.WebUtility.HtmlEncode(target)}"></form>
        <script>document.getElementById('f').submit();</script>
        </body></html>
        """,
        "text/html; charset=utf-8")));

    /// <summary>The URL of the sibling's page that posts an empty form to <paramref name="target"/> on load.</summary>
    private static string AttackPage(OtherOrigin sibling, Uri target) => $"{sibling.Origin}/attack?target={Uri.EscapeDataString(target.ToString())}";
}
