using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tessera.Demo.Tests;

/// <summary>
/// Every page the demo serves, in each state a visitor meets it in, checked by axe-core's rules in a real headless
/// Chromium: no violation at all. The failure lists each violation's rule and the elements it found.
/// </summary>
public sealed class AccessibilityTests(Chromium chromium, AxeCore axe) : IClassFixture<Chromium>, IClassFixture<AxeCore>
{
    [Theory]
    [InlineData("/", "anonymous", 200)]
    [InlineData("/", "alice", 200)]
    [InlineData("/pos", "anonymous", 200)]
    [InlineData("/pos.html", "anonymous", 200)]
    [InlineData("/spa.html", "anonymous", 200)]
    [InlineData("/spa.html", "alice, signed in with tokens on the page", 200)]
    [InlineData("/account/sessions", "anonymous", 200)]
    [InlineData("/live", "anonymous", 200)]
    [InlineData("/live", "alice", 200)]
    [InlineData("/account/sessions", "alice", 200)]
    [InlineData("/account/sessions", "alice, after signing out her other device", 200)]
    [InlineData("/account/sessions/revoke-others", "alice, posting without the form's token", 400)]
    [InlineData("/admin/sign-in", "anonymous", 200)]
    [InlineData("/admin/sign-in", "anonymous, with a wrong password", 403)]
    [InlineData("/admin/sign-in", "anonymous, after too many attempts", 429)]
    [InlineData("/admin/sessions", "anonymous", 401)]
    [InlineData("/admin/sessions", "alice", 403)]
    [InlineData("/admin/sessions?user=alice", "operator", 200)]
    [InlineData("/admin/sessions?user=alice", "operator, after revoking alice's session", 200)]
    public async Task ThePageHasNoAccessibilityViolations(string path, string visitor, int expectedStatus)
    {
        await using var server = await DemoServer.StartAsync("memory", extra: Operator.Argument);
        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        await using var phone = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        var page = await context.NewPageAsync();

        var response = await VisitAsync(page, phone, path, visitor);
        await ScriptsDoneAsync(page);

        var violations = await axe.ViolationsAsync(page);
        Assert.True(violations.Count == 0,
            $"axe found {violations.Count} violation(s) on {path} ({visitor}), HTTP {response?.Status}:\n{string.Join('\n', violations)}");
        Assert.Equal(expectedStatus, response?.Status);
    }

    /// <summary>Brings <paramref name="page"/> to <paramref name="path"/> as <paramref name="visitor"/>; the page's response.</summary>
    private static async Task<IResponse?> VisitAsync(IPage page, IBrowserContext phone, string path, string visitor)
    {
        switch (visitor)
        {
            case "anonymous":
                try
                {
                    return await page.GotoAsync(path);
                }
                catch (PlaywrightException e) when (e.Message.StartsWith("net::ERR_HTTP_RESPONSE_CODE_FAILURE", StringComparison.Ordinal))
                {
                    // An error status with an empty body: the visitor sees the browser's own error page, and so does axe.
                    return null;
                }
            case "alice":
                await SignInAsync(page, "alice");
                await SignInAsync(await phone.NewPageAsync(), "alice");
                return await page.GotoAsync(path);
            case "alice, signed in with tokens on the page":
                var spa = await page.GotoAsync(path);
                await page.GetByLabel("User").FillAsync("alice");
                await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with tokens" }).ClickAsync();
                await Expect(page.Locator("#spa-state")).ToHaveTextAsync("Signed in as alice.");
                return spa;
            case "alice, after signing out her other device":
                await SignInAsync(page, "alice");
                await SignInAsync(await phone.NewPageAsync(), "alice");
                await page.GotoAsync(path);
                var signedOut = await NavigationAsync(page, () => page.Locator("li.device:not(.current)").GetByRole(AriaRole.Button).ClickAsync());
                await Expect(page.Locator(".notice")).ToHaveTextAsync("That device is signed out.");
                return signedOut;
            case "alice, posting without the form's token":
                await SignInAsync(page, "alice");
                // A same-origin form (the request-origin guard lets it through) that lacks the antiforgery field.
                var expired = await NavigationAsync(page, () => page.EvaluateAsync("""
                    path => {
                        const form = document.createElement('form');
                        form.method = 'post';
                        form.action = path;
                        document.body.appendChild(form);
                        form.submit();
                    }
                    """, path));
                await page.WaitForURLAsync("**" + path);
                return expired;
            case "anonymous, with a wrong password":
                await page.GotoAsync(path);
                await page.GetByLabel("Operator password").FillAsync("not the password");
                var refused = await NavigationAsync(page, () => page.GetByRole(AriaRole.Button, new() { Name = "Sign in as operator" }).ClickAsync());
                await Expect(page.Locator("#refused")).ToBeVisibleAsync();
                return refused;
            case "anonymous, after too many attempts":
                // The limiter counts every attempt, before the form's token is even checked: use up the budget, then
                // post the form as a person would.
                for (var i = 0; i < DemoRateLimits.OperatorSignInAttempts; i++)
                {
                    var used = await page.APIRequest.PostAsync(path, new() { Form = page.APIRequest.CreateFormData() });
                    Assert.Equal(400, used.Status);
                }
                await page.GotoAsync(path);
                await page.GetByLabel("Operator password").FillAsync(Operator.Password);
                var limited = await NavigationAsync(page, () => page.GetByRole(AriaRole.Button, new() { Name = "Sign in as operator" }).ClickAsync());
                await Expect(page.Locator("h1")).ToHaveTextAsync("Too many attempts");
                return limited;
            case "operator":
            case "operator, after revoking alice's session":
                await SignInAsync(await phone.NewPageAsync(), "alice");
                await page.GotoAsync("/admin/sign-in");
                await page.GetByLabel("Operator password").FillAsync(Operator.Password);
                await page.GetByRole(AriaRole.Button, new() { Name = "Sign in as operator" }).ClickAsync();
                await page.WaitForURLAsync(new Regex("/admin/sessions$"));
                var found = await page.GotoAsync(path);
                if (visitor == "operator")
                {
                    return found;
                }
                var revoked = await NavigationAsync(page, () => page.Locator("tr.session").GetByRole(AriaRole.Button).ClickAsync());
                await Expect(page.Locator(".notice")).ToBeVisibleAsync();
                return revoked;
            default:
                throw new ArgumentOutOfRangeException(nameof(visitor), visitor, "No such visitor.");
        }
    }

    /// <summary>Waits until the script of the home page, the point of sale or the single-page app has filled the page in (a no-op elsewhere).</summary>
    private static async Task ScriptsDoneAsync(IPage page)
    {
        await page.WaitForLoadStateAsync(LoadState.Load);
        foreach (var (id, placeholder) in new[] { ("#who", "Loading…"), ("#tab-id", "…"), ("#live-status", "Connecting…"), ("#spa-state", "…") })
        {
            if (await page.Locator(id).CountAsync() > 0)
            {
                await Expect(page.Locator(id)).Not.ToHaveTextAsync(placeholder);
            }
        }
    }

    /// <summary>The document <paramref name="action"/> navigates to, past any redirect (a form's 303).</summary>
    private static Task<IResponse> NavigationAsync(IPage page, Func<Task> action) =>
        page.RunAndWaitForResponseAsync(action, r => r.Request.IsNavigationRequest && r.Request.Frame == page.MainFrame && r.Status is < 300 or >= 400);

    /// <summary>Signs <paramref name="user"/> in with the home page's JSON route, from the page, as its script would.</summary>
    private static async Task SignInAsync(IPage page, string user)
    {
        if (page.Url == "about:blank")
        {
            await page.GotoAsync("/");
        }
        var status = await page.EvaluateAsync<int>(
            "async user => (await fetch('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user }) })).status",
            user);
        Assert.Equal(200, status);
    }
}
