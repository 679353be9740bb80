using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tessera.Demo.Tests;

/// <summary>
/// The demo's pages in a real headless Chromium: signing in through the home page's form, "your devices" with two
/// browser contexts (two cookie jars: two devices), the operator page, and the keyboard alone. Each test saves
/// screenshots of the pages it visits for a person to look at.
/// </summary>
public sealed class BrowserPagesTests(Chromium chromium, ITestOutputHelper output) : IClassFixture<Chromium>
{
    private const string IPhoneSafari =
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    public async Task SigningOutTheOtherDeviceFromTheDevicesPageSignsItOutOnItsNextRequest(string store)
    {
        await using var server = await DemoServer.StartAsync(store);
        await using var laptop = await NewContextAsync(server);
        await using var phone = await NewContextAsync(server, IPhoneSafari);
        var laptopPage = await SignInAsync(laptop, "alice");
        await ScreenshotAsync(laptopPage, $"index-{store}");
        var phonePage = await SignInAsync(phone, "alice");

        await laptopPage.GetByRole(AriaRole.Link, new() { Name = "Your devices" }).First.ClickAsync();
        await Expect(laptopPage).ToHaveURLAsync(new Regex("/account/sessions$"));
        var devices = laptopPage.Locator("li.device");
        await Expect(devices).ToHaveCountAsync(2);
        var current = laptopPage.Locator("li.device.current");
        await Expect(current.Locator("h3")).ToContainTextAsync("Chrome on Linux");
        await Expect(current.Locator("h3")).ToContainTextAsync("This device");
        await Expect(current).ToContainTextAsync("127.0.0.1");
        await Expect(current).ToContainTextAsync("just now");
        var other = laptopPage.Locator("li.device:not(.current)");
        await Expect(other.Locator("h3")).ToHaveTextAsync("Safari on iOS");
        await Expect(laptopPage.Locator("#revoke-others")).ToBeVisibleAsync();
        await ScreenshotAsync(laptopPage, $"account-sessions-{store}");

        await other.GetByRole(AriaRole.Button).ClickAsync();

        await Expect(laptopPage).ToHaveURLAsync(new Regex("/account/sessions$"));
        await Expect(laptopPage.Locator(".notice")).ToHaveTextAsync("That device is signed out.");
        await Expect(laptopPage.Locator("li.device")).ToHaveCountAsync(1);
        await Expect(laptopPage.Locator("li.device.current")).ToHaveCountAsync(1);
        await ScreenshotAsync(laptopPage, $"account-sessions-after-revoke-{store}");

        // The phone's very next request: its cookie names a revoked session.
        await phonePage.GotoAsync("/account/sessions");
        await Expect(phonePage.Locator("#not-signed-in")).ToBeVisibleAsync();
        await phonePage.GotoAsync("/");
        await Expect(phonePage.Locator("#who")).ToHaveTextAsync("Not signed in.");
        // And the laptop is still signed in.
        await laptopPage.GotoAsync("/");
        await Expect(laptopPage.Locator("#who")).ToHaveTextAsync("Signed in as alice.");
    }

    /// <summary>
    /// The live page holds a hub connection; when the laptop signs the phone out from "your devices", the phone's page
    /// says so without a reload, within the 2 seconds the issue asks for (the page's own connection close, pushed by the
    /// server; the re-validation net is 30 seconds, so nothing else could be that quick).
    /// </summary>
    [Fact]
    public async Task TheLivePageSaysSignedOutOnAnotherDeviceTheMomentItHappens()
    {
        await using var server = await DemoServer.StartAsync("memory");
        await using var laptop = await NewContextAsync(server);
        await using var phone = await NewContextAsync(server, IPhoneSafari);
        var laptopPage = await SignInAsync(laptop, "alice");
        var phonePage = await SignInAsync(phone, "alice");
        await phonePage.GotoAsync("/live");
        await Expect(phonePage.Locator("#live-user")).ToHaveTextAsync("Signed in as alice.");
        await Expect(phonePage.Locator("#live-status")).ToHaveTextAsync(new Regex("^Connected"));
        await ScreenshotAsync(phonePage, "live-connected");
        await laptopPage.GotoAsync("/account/sessions");

        await laptopPage.Locator("li.device:not(.current)").GetByRole(AriaRole.Button).ClickAsync();

        await Expect(phonePage.Locator("#live-status")).ToHaveTextAsync("You were signed out on another device.", new() { Timeout = 2000 });
        await Expect(phonePage.Locator("#live-user")).ToHaveTextAsync("Not signed in.");
        await ScreenshotAsync(phonePage, "live-signed-out");
        await Expect(laptopPage.Locator(".notice")).ToHaveTextAsync("That device is signed out.");
    }

    [Fact]
    public async Task SigningOutAllOtherDevicesKeepsOnlyThisOne()
    {
        await using var server = await DemoServer.StartAsync("memory");
        await using var laptop = await NewContextAsync(server);
        await using var phone = await NewContextAsync(server, IPhoneSafari);
        await using var tablet = await NewContextAsync(server);
        var laptopPage = await SignInAsync(laptop, "alice");
        var phonePage = await SignInAsync(phone, "alice");
        var tabletPage = await SignInAsync(tablet, "alice");

        await laptopPage.GotoAsync("/account/sessions");
        await Expect(laptopPage.Locator("li.device")).ToHaveCountAsync(3);
        await laptopPage.GetByRole(AriaRole.Button, new() { Name = "Sign out all other devices" }).ClickAsync();

        await Expect(laptopPage.Locator(".notice")).ToHaveTextAsync("Signed out 2 other devices.");
        await Expect(laptopPage.Locator("li.device")).ToHaveCountAsync(1);
        await Expect(laptopPage.Locator("#revoke-others")).ToHaveCountAsync(0);
        foreach (var page in new[] { phonePage, tabletPage })
        {
            await page.GotoAsync("/account/sessions");
            await Expect(page.Locator("#not-signed-in")).ToBeVisibleAsync();
        }
    }

    [Fact]
    public async Task AnOperatorFindsAUsersSessionsAndRevokesOne()
    {
        await using var server = await DemoServer.StartAsync("sqlite", extra: Operator.Argument);
        await using var alice = await NewContextAsync(server, IPhoneSafari);
        await using var admin = await NewContextAsync(server);
        var alicePage = await SignInAsync(alice, "alice");

        // Alice is no operator: the page refuses her with a readable 403.
        var refused = await alicePage.GotoAsync("/admin/sessions");
        Assert.Equal((int)HttpStatusCode.Forbidden, refused!.Status);
        await Expect(alicePage.Locator("h1")).ToHaveTextAsync("Not an operator");

        // The operator follows the home page's link, is sent to the operator sign-in, mistypes once, then signs in.
        var adminPage = await admin.NewPageAsync();
        await adminPage.GotoAsync("/");
        await adminPage.GetByRole(AriaRole.Link, new() { Name = "Operator page" }).ClickAsync();
        await Expect(adminPage.Locator("h1")).ToHaveTextAsync("Not signed in");
        await adminPage.GetByRole(AriaRole.Link, new() { Name = "Sign in as operator" }).ClickAsync();
        await Expect(adminPage.Locator("h1")).ToHaveTextAsync("Operator sign-in");
        await adminPage.GetByLabel("Operator password").FillAsync("not the password");
        await adminPage.GetByRole(AriaRole.Button, new() { Name = "Sign in as operator" }).ClickAsync();
        await Expect(adminPage.Locator("#refused")).ToHaveTextAsync("That is not the operator password.");
        await ScreenshotAsync(adminPage, "admin-sign-in-refused");
        await adminPage.GetByLabel("Operator password").FillAsync(Operator.Password);
        await adminPage.GetByRole(AriaRole.Button, new() { Name = "Sign in as operator" }).ClickAsync();
        await Expect(adminPage).ToHaveURLAsync(new Regex("/admin/sessions$"));
        await Expect(adminPage.Locator("h1")).ToHaveTextAsync("Sessions (operator)");
        await Expect(adminPage.Locator("#live")).ToHaveTextAsync("2");

        await adminPage.GetByLabel("User").FillAsync("alice");
        await adminPage.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(adminPage).ToHaveURLAsync(new Regex(@"/admin/sessions\?user=alice$"));
        await Expect(adminPage.Locator("h2", new() { HasText = "Sessions of alice" })).ToHaveTextAsync("Sessions of alice (1)");
        await Expect(adminPage.Locator("tr.session")).ToContainTextAsync("Safari on iOS");
        await ScreenshotAsync(adminPage, "admin-sessions");

        await adminPage.Locator("tr.session").GetByRole(AriaRole.Button).ClickAsync();

        await Expect(adminPage.Locator(".notice")).ToHaveTextAsync("The session is revoked: its next request is signed out.");
        await Expect(adminPage.Locator("h2", new() { HasText = "Sessions of alice" })).ToHaveTextAsync("Sessions of alice (0)");
        await Expect(adminPage.Locator("#live")).ToHaveTextAsync("1");
        await ScreenshotAsync(adminPage, "admin-sessions-after-revoke");
        await alicePage.GotoAsync("/account/sessions");
        await Expect(alicePage.Locator("#not-signed-in")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task TheKeyboardAloneReachesAndPressesASignOutButton()
    {
        await using var server = await DemoServer.StartAsync("memory");
        await using var laptop = await NewContextAsync(server);
        await using var phone = await NewContextAsync(server, IPhoneSafari);
        var laptopPage = await SignInAsync(laptop, "alice");
        var phonePage = await SignInAsync(phone, "alice");
        await laptopPage.GotoAsync("/account/sessions");

        // Tab from the top of the page until the other device's button has the focus, as a keyboard user would.
        var reached = false;
        for (var i = 0; i < 30 && !reached; i++)
        {
            await laptopPage.Keyboard.PressAsync("Tab");
            reached = await laptopPage.EvaluateAsync<bool>(
                "() => document.activeElement?.tagName === 'BUTTON' && !!document.activeElement.closest('li.device:not(.current)')");
        }
        Assert.True(reached, "Tab never reached the other device's sign-out button.");
        // The focus is visible: an outline, not just the browser's default.
        var outline = await laptopPage.EvaluateAsync<string>("() => getComputedStyle(document.activeElement).outlineStyle");
        Assert.Equal("solid", outline);
        await laptopPage.Keyboard.PressAsync("Enter");

        await Expect(laptopPage.Locator(".notice")).ToHaveTextAsync("That device is signed out.");
        await phonePage.GotoAsync("/account/sessions");
        await Expect(phonePage.Locator("#not-signed-in")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task APostWithoutTheFormsAntiforgeryTokenChangesNothing()
    {
        await using var server = await DemoServer.StartAsync("memory");
        await using var laptop = await NewContextAsync(server);
        await using var phone = await NewContextAsync(server, IPhoneSafari);
        var laptopPage = await SignInAsync(laptop, "alice");
        var phonePage = await SignInAsync(phone, "alice");

        // The laptop's cookies, but no token: what a cross-site form would send.
        var response = await laptop.APIRequest.PostAsync("/account/sessions/revoke-others", new() { Form = laptop.APIRequest.CreateFormData() });

        Assert.Equal((int)HttpStatusCode.BadRequest, response.Status);
        await phonePage.GotoAsync("/");
        await Expect(phonePage.Locator("#who")).ToHaveTextAsync("Signed in as alice.");
    }

    [Fact]
    public async Task TheDevicesPageTellsAnAnonymousVisitorToSignIn()
    {
        await using var server = await DemoServer.StartAsync("memory");
        await using var context = await NewContextAsync(server);
        var page = await context.NewPageAsync();

        await page.GotoAsync("/account/sessions");

        await Expect(page.Locator("#not-signed-in")).ToContainTextAsync("You are not signed in.");
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "en");
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in on the demo's home page" }).ClickAsync();
        await Expect(page.Locator("#login")).ToBeVisibleAsync();
    }

    private Task<IBrowserContext> NewContextAsync(DemoServer server, string? userAgent = null) =>
        chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString(), UserAgent = userAgent });

    private static async Task<IPage> SignInAsync(IBrowserContext context, string user)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        await SignInOnHomePageAsync(page, user);
        return page;
    }

    /// <summary>Through the home page's form, as a person would (the form posts JSON with fetch).</summary>
    private static async Task SignInOnHomePageAsync(IPage page, string user)
    {
        await Expect(page.Locator("#who")).ToHaveTextAsync("Not signed in.");
        await page.Locator("#login").GetByLabel("User").FillAsync(user);
        await page.Locator("#login").GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#who")).ToHaveTextAsync($"Signed in as {user}.");
    }

    private async Task ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(Chromium.ScreenshotDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }
}
